import { resolve } from "node:path";
import type { Command } from "commander";
import type { Ipam, SubnetMapData } from "../../store/Ipam.js";
import { withIpam } from "../databaseSelection.js";
import { writePrivateFile } from "../privateFile.js";
import { subnetIdOf } from "../subnetReference.js";
import { renderSubnetMap } from "../subnetMapSvg.js";
import { printJson, printLine } from "../terminal.js";

/** `ipam map SUBNET --out FILE.svg`: a picture of the subnet. */
export function registerMapCommand(program: Command): void {
  program
    .command("map")
    .description("draw a subnet as an SVG grid: pools, gateway, reserved, allocated blocks coloured by owner, and the blocks of its child subnets")
    .argument("<subnet>", "subnet id or CIDR")
    .requiredOption("--out <file.svg>", "where to write the SVG (mode 0600; a symbolic link there is refused, never followed)")
    .option("--namespace <name>", "namespace of the CIDR when it exists in several")
    .option("--json", "print what was written as JSON: the file, the grid and the cells of each child subnet")
    .action((reference: string, options: { out: string; namespace?: string; json?: boolean }, command: Command) =>
      withIpam(command, "read", async (ipam) => {
        const subnetId = await subnetIdOf(ipam, reference, options.namespace);
        const { path, data } = await writeSubnetMap(ipam, subnetId, options.out);
        if (options.json) return printJson({ subnetId, file: path, grid: data.grid, childBlocks: data.childBlocks });
        printLine(`wrote ${path}`);
      }),
    );
}

/** Render one subnet to `out`; returns the absolute path and what was drawn. */
export async function writeSubnetMap(ipam: Ipam, subnetId: string, out: string): Promise<{ path: string; data: SubnetMapData }> {
  const data = await ipam.subnetMap(subnetId);
  const path = resolve(out);
  await writePrivateFile(path, renderSubnetMap(data), "out");
  return { path, data };
}

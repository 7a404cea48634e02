import type { Command } from "commander";
import type { SubnetUsageReport } from "../../store/usageQueries.js";
import { withIpam } from "../databaseSelection.js";
import { resolveSubnet } from "../subnetReference.js";
import { printJson, printLine } from "../terminal.js";
import { namespaceTotals, renderUsage } from "../usageView.js";

/** `ipam usage [subnet]`: utilization per subnet and namespace, holders, addresses outside pools. */
export function registerUsageCommand(program: Command): void {
  program
    .command("usage")
    .description("utilization per subnet and namespace with bars, the owners holding addresses, and allocations outside the pools")
    .argument("[subnet]", "one subnet (id or CIDR); default all")
    .option("--namespace <name>", "only this namespace (or: the namespace of the CIDR)")
    .option("--json", "print JSON")
    .action((reference: string | undefined, options: { namespace?: string; json?: boolean }, command: Command) =>
      withIpam(command, "read", async (ipam) => {
        const subnets =
          reference === undefined
            ? await ipam.listSubnets(options.namespace === undefined ? {} : { namespace: options.namespace })
            : [await resolveSubnet(ipam, reference, options.namespace)];
        const reports: SubnetUsageReport[] = [];
        for (const subnet of subnets) reports.push(await ipam.usageReport(subnet.id));
        if (options.json) return printJson({ namespaces: namespaceTotals(reports), subnets: reports });
        printLine(renderUsage(reports));
      }),
    );
}

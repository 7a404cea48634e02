import type { Command } from "commander";
import { NotFoundError } from "../../core/errors.js";
import type { Allocation } from "../../core/types.js";
import type { Ipam } from "../../store/Ipam.js";
import { summarizeAddresses } from "../addressSummary.js";
import { withIpam } from "../databaseSelection.js";
import { UsageError } from "../exitCodes.js";
import { collectTag, wholeNumber } from "../optionParsers.js";
import { subnetIdOf } from "../subnetReference.js";
import { displayText, printJson, printLine, renderFields } from "../terminal.js";

interface AllocOptions {
  owner: string;
  address?: string;
  count?: number;
  strategy?: string;
  key?: string;
  description?: string;
  tag?: Record<string, string>;
  namespace?: string;
  json?: boolean;
}

/** `ipam alloc`, `ipam release`, `ipam resize`: the core's allocation operations, same validation and errors. */
export function registerAllocationCommands(program: Command): void {
  program
    .command("alloc")
    .description("allocate a specific address, the next free one, a random one, or several at once (all or nothing)")
    .argument("<subnet>", "subnet id or CIDR")
    .requiredOption("--owner <owner>", "who holds it, e.g. project/stack/resource")
    .option("--address <address>", "this exact address (anywhere usable in the subnet)")
    .option("--count <n>", "how many addresses (default 1)", wholeNumber)
    .option("--strategy <strategy>", "sequential (lowest free, default) or random")
    .option("--key <idempotency-key>", "repeating a request with the same key returns the first result")
    .option("--description <text>", "free text")
    .option("--tag <key=value>", "a tag, repeatable", collectTag)
    .option("--namespace <name>", "namespace of the CIDR when it exists in several")
    .option("--json", "print JSON")
    .action((reference: string, options: AllocOptions, command: Command) =>
      withIpam(command, "write", async (ipam) => {
        const result = await ipam.allocate({
          subnetId: await subnetIdOf(ipam, reference, options.namespace),
          owner: options.owner,
          ...(options.address !== undefined ? { address: options.address } : {}),
          ...(options.count !== undefined ? { count: options.count } : {}),
          ...(options.strategy !== undefined ? { strategy: options.strategy as "sequential" } : {}),
          ...(options.key !== undefined ? { idempotencyKey: options.key } : {}),
          ...(options.description !== undefined ? { description: options.description } : {}),
          ...(options.tag ? { tags: options.tag } : {}),
        });
        if (options.json) return printJson(result);
        printLine(result.created ? `allocated ${result.allocation.addresses.join(", ")}` : `already allocated by an earlier request with this key: ${result.allocation.addresses.join(", ")}`);
        printLine(renderAllocation(result.allocation));
      }),
    );

  program
    .command("release")
    .description("release an allocation (by id, or by one of its addresses); releasing twice is harmless")
    .argument("[allocation]", "allocation id")
    .option("--subnet <subnet>", "with --address: the subnet (id or CIDR)")
    .option("--address <address>", "release the allocation holding this address")
    .option("--namespace <name>", "namespace of the CIDR when it exists in several")
    .option("--json", "print JSON")
    .action((allocationId: string | undefined, options: { subnet?: string; address?: string; namespace?: string; json?: boolean }, command: Command) => {
      const byAddress = options.address !== undefined || options.subnet !== undefined;
      if (byAddress === (allocationId !== undefined)) throw new UsageError("give an allocation id, or --subnet and --address (not both)");
      if (byAddress && (options.address === undefined || options.subnet === undefined)) throw new UsageError("--subnet and --address go together");
      return withIpam(command, "write", async (ipam) => {
        const id = allocationId ?? (await holderOf(ipam, options.subnet!, options.address!, options.namespace)).id;
        const result = await ipam.release(id);
        if (options.json) return printJson({ allocationId: id, ...result });
        printLine(result.released ? `released allocation ${id}: ${summarizeAddresses(result.addresses)}` : `allocation ${id} does not exist (nothing released)`);
      });
    });

  program
    .command("resize")
    .description("change how many addresses an allocation holds (growing keeps its addresses, shrinking frees the highest)")
    .argument("<allocation>", "allocation id")
    .requiredOption("--count <n>", "the new number of addresses", wholeNumber)
    .option("--json", "print JSON")
    .action((allocationId: string, options: { count: number; json?: boolean }, command: Command) =>
      withIpam(command, "write", async (ipam) => {
        const result = await ipam.resizeAllocation({ allocationId, count: options.count });
        if (options.json) return printJson(result);
        printLine(`allocation ${allocationId} now holds ${result.allocation.addresses.length} address(es)${result.released.length > 0 ? `; released ${summarizeAddresses(result.released)}` : ""}`);
        printLine(renderAllocation(result.allocation));
      }),
    );
}

/** @throws NotFoundError when nobody holds the address */
async function holderOf(ipam: Ipam, subnetReference: string, address: string, namespace?: string): Promise<Allocation> {
  const subnetId = await subnetIdOf(ipam, subnetReference, namespace);
  const holder = await ipam.whoHolds(subnetId, address);
  if (holder === null) throw new NotFoundError("address", `${address} (not allocated in subnet ${subnetId})`);
  return holder;
}

function renderAllocation(allocation: Allocation): string {
  return renderFields([
    ["allocation", allocation.id],
    ["subnet", allocation.subnetId],
    ["owner", displayText(allocation.owner)],
    ["addresses", summarizeAddresses(allocation.addresses, 8)],
    ["strategy", allocation.strategy],
    ["idempotency key", displayText(allocation.idempotencyKey ?? "-")],
    ["created", allocation.createdAt],
  ]);
}

import { Option, type Command } from "commander";
import { LIMITS } from "../../core/schemas.js";
import type { Allocation, Subnet } from "../../core/types.js";
import type { Ipam } from "../../store/Ipam.js";
import { summarizeAddresses } from "../addressSummary.js";
import { withIpam } from "../databaseSelection.js";
import { collect, collectPool, collectTag, wholeNumber } from "../optionParsers.js";
import { resolveSubnet, subnetIdOf } from "../subnetReference.js";
import { subnetTree, treeLabel } from "../subnetTree.js";
import { displayText, printJson, printLine, renderFields, renderTable } from "../terminal.js";
import { usageBar } from "../usageBar.js";

interface LayoutOptions {
  namespace?: string;
  gateway?: string | false;
  pool?: { start: string; end: string }[];
  defaultPools?: boolean;
  reserved?: string[];
  clearReserved?: boolean;
  description?: string;
  tag?: Record<string, string>;
  clearTags?: boolean;
  releaseHold?: number;
  json?: boolean;
}

const SHOW_ROWS = 500;

/** `ipam subnet list|show|create|update|delete`: the core's subnet operations, same validation and errors. */
export function registerSubnetCommand(program: Command): void {
  const subnet = program.command("subnet").description("list, show, create, update and delete subnets");

  subnet
    .command("list")
    .description("every subnet (children under their parent)")
    .option("--namespace <name>", "only this namespace")
    .option("--json", "print JSON")
    .action((options: LayoutOptions, command: Command) =>
      withIpam(command, "read", async (ipam) => {
        const subnets = await ipam.listSubnets(options.namespace === undefined ? {} : { namespace: options.namespace });
        if (options.json) return printJson(subnets);
        printLine(renderSubnetList(subnets));
      }),
    );

  subnet
    .command("show")
    .description("one subnet (id or CIDR) with its usage and allocations")
    .argument("<subnet>", "subnet id or CIDR")
    .option("--namespace <name>", "namespace of the CIDR when it exists in several")
    .option("--json", "print JSON (all allocations)")
    .action((reference: string, options: LayoutOptions, command: Command) =>
      withIpam(command, "read", async (ipam) => {
        const found = await resolveSubnet(ipam, reference, options.namespace);
        const usage = await ipam.usage(found.id);
        const allocations = await allAllocations(ipam, found.id);
        const report = usage.held === "0" && found.releaseHoldSeconds === 0 ? null : await ipam.usageReport(found.id);
        const held = report?.held ?? [];
        const heldBlocks = report?.heldBlocks ?? [];
        if (options.json) return printJson({ subnet: found, usage, allocations, held, heldBlocks });
        printLine(renderSubnetFields(found));
        const inUse = BigInt(usage.poolSize) - BigInt(usage.free);
        const heldText = usage.held === "0" ? "" : `, ${usage.held} held after release`;
        printLine(`usage: ${usageBar(inUse, BigInt(usage.poolSize))}  ${inUse} of ${usage.poolSize} pool addresses in use, ${usage.allocated} allocated, ${usage.outsidePool} outside the pools${heldText}`);
        printLine(renderAllocations(allocations));
        if (held.length > 0) printLine(renderHeld(held));
        if (heldBlocks.length > 0) printLine(renderHeldBlocks(heldBlocks));
      }),
    );

  addLayoutOptions(
    subnet
      .command("create")
      .description("create a subnet")
      .argument("<cidr>", "the network in canonical form, e.g. 10.20.0.0/24 or 2001:db8::/64")
      .option("--namespace <name>", "subnets of one namespace never overlap", "default")
      .option("--gateway <address>", "never allocated"),
    "--reserved <address|cidr>",
  ).action((cidr: string, options: LayoutOptions, command: Command) =>
    withIpam(command, "write", async (ipam) => {
      const created = await ipam.createSubnet({
        cidr,
        namespace: options.namespace,
        ...(typeof options.gateway === "string" ? { gateway: options.gateway } : {}),
        ...(options.pool ? { allocationPools: options.pool } : {}),
        ...(options.reserved ? { reserved: options.reserved } : {}),
        ...(options.description !== undefined ? { description: options.description } : {}),
        ...(options.releaseHold !== undefined ? { releaseHoldSeconds: options.releaseHold } : {}),
        ...(options.tag ? { tags: options.tag } : {}),
      });
      if (options.json) return printJson(created);
      printLine(`created subnet ${created.id}`);
      printLine(renderSubnetFields(created));
    }),
  );

  addLayoutOptions(
    subnet
      .command("update")
      .description("change pools, gateway, reserved, description or tags while addresses are in use (omitted fields keep their value)")
      .argument("<subnet>", "subnet id or CIDR")
      .option("--namespace <name>", "namespace of the CIDR when it exists in several")
      .option("--gateway <address>", "a new gateway")
      .option("--no-gateway", "remove the gateway")
      .addOption(new Option("--default-pools", "go back to the default pool (the usable range minus the gateway)").conflicts("pool"))
      .addOption(new Option("--clear-reserved", "remove every reserved entry").conflicts("reserved"))
      .addOption(new Option("--clear-tags", "remove every tag").conflicts("tag")),
    "--reserved <address|cidr>",
  ).action((reference: string, options: LayoutOptions, command: Command) =>
    withIpam(command, "write", async (ipam) => {
      const result = await ipam.updateSubnet(await subnetIdOf(ipam, reference, options.namespace), {
        ...(options.gateway !== undefined ? { gateway: options.gateway === false ? null : options.gateway } : {}),
        ...(options.pool ? { allocationPools: options.pool } : options.defaultPools ? { allocationPools: null } : {}),
        ...(options.reserved ? { reserved: options.reserved } : options.clearReserved ? { reserved: [] } : {}),
        ...(options.description !== undefined ? { description: options.description } : {}),
        ...(options.releaseHold !== undefined ? { releaseHoldSeconds: options.releaseHold } : {}),
        ...(options.tag ? { tags: options.tag } : options.clearTags ? { tags: {} } : {}),
      });
      if (options.json) return printJson(result);
      printLine(`updated subnet ${result.subnet.id}`);
      printLine(renderSubnetFields(result.subnet));
      if (result.allocationsOutsidePools.length > 0) {
        printLine(`note: ${result.allocationsOutsidePools.length} allocated address(es) are now outside the pools (still valid): ${summarizeAddresses(result.allocationsOutsidePools)}`);
      }
    }),
  );

  subnet
    .command("delete")
    .description("delete a subnet (refused while it has allocations)")
    .argument("<subnet>", "subnet id or CIDR")
    .option("--namespace <name>", "namespace of the CIDR when it exists in several")
    .option("--json", "print JSON")
    .action((reference: string, options: LayoutOptions, command: Command) =>
      withIpam(command, "write", async (ipam) => {
        const subnetId = await subnetIdOf(ipam, reference, options.namespace);
        const result = await ipam.deleteSubnet(subnetId);
        if (options.json) return printJson({ subnetId, ...result });
        printLine(result.deleted ? `deleted subnet ${subnetId}` : `subnet ${subnetId} did not exist (nothing deleted)`);
      }),
    );
}

function addLayoutOptions(command: Command, reservedFlag: string): Command {
  return command
    .option("--pool <start-end>", "an allocation pool, repeatable (default: the usable range minus the gateway)", collectPool)
    .option(reservedFlag, "an address or CIDR never handed out, repeatable", collect)
    .option("--description <text>", "free text")
    .option("--tag <key=value>", "a tag, repeatable (update replaces all tags)", collectTag)
    .option("--release-hold <seconds>", "keep released addresses from other holders this long (hold-down; 0: none)", wholeNumber)
    .option("--json", "print JSON");
}

async function allAllocations(ipam: Ipam, subnetId: string): Promise<Allocation[]> {
  const all: Allocation[] = [];
  for (let after: string | undefined; ; ) {
    const page = await ipam.listAllocations({ subnetId }, { limit: LIMITS.pageSize, ...(after ? { after } : {}) });
    all.push(...page.allocations);
    if (page.next === null) return all;
    after = page.next;
  }
}

export function renderSubnetList(subnets: readonly Subnet[]): string {
  const rows = subnetTree(subnets).map((entry) => {
    const s = entry.subnet;
    return [s.id, displayText(s.namespace), treeLabel(entry), s.gateway ?? "-", s.allocationPools.map((p) => `${p.start}-${p.end}`).join("\n"), s.reserved.join("\n") || "-", displayText(s.description)];
  });
  return renderTable(["ID", "NAMESPACE", "CIDR", "GATEWAY", "POOLS", "RESERVED", "DESCRIPTION"], rows);
}

export function renderSubnetFields(subnet: Subnet): string {
  return renderFields([
    ["id", subnet.id],
    ["namespace", displayText(subnet.namespace)],
    ["cidr", subnet.cidr],
    ["parent", subnet.parentId ?? "-"],
    ["gateway", subnet.gateway ?? "-"],
    ["pools", `${subnet.allocationPools.map((p) => `${p.start}-${p.end}`).join(", ")}${subnet.allocationPoolsExplicit ? "" : " (default)"}`],
    ["reserved", subnet.reserved.join(", ") || "-"],
    ["size", subnet.size],
    ["description", displayText(subnet.description) || "-"],
    ["tags", displayText(Object.entries(subnet.tags).map(([k, v]) => `${k}=${v}`).join(", ")) || "-"],
    ...(subnet.releaseHoldSeconds > 0 ? [["release hold", `${subnet.releaseHoldSeconds} s`] as const] : []),
    ["created", subnet.createdAt],
    ["updated", subnet.updatedAt],
  ]);
}

function renderAllocations(allocations: readonly Allocation[]): string {
  if (allocations.length === 0) return "no allocations";
  const rows = allocations.slice(0, SHOW_ROWS).map((a) => [a.id, displayText(a.owner), summarizeAddresses(a.addresses), a.strategy, displayText(a.idempotencyKey ?? "-"), a.createdAt]);
  const more = allocations.length > SHOW_ROWS ? `\n… ${allocations.length - SHOW_ROWS} more allocations (--json lists all)` : "";
  return `${renderTable(["ALLOCATION", "OWNER", "ADDRESSES", "STRATEGY", "IDEMPOTENCY KEY", "CREATED"], rows)}${more}`;
}

/** Child prefixes released and held back (hold-down), soonest free first, with the time left. */
export function renderHeldBlocks(blocks: readonly { cidr: string; childId: string; secondsLeft: number }[]): string {
  const rows = blocks.slice(0, SHOW_ROWS).map((b) => [b.cidr, "held", `${b.secondsLeft} s`, `child subnet ${b.childId}`]);
  return renderTable(["CHILD PREFIX", "STATE", "TIME LEFT", "RELEASED BY"], rows);
}

/** Released addresses still held back (hold-down), soonest free first, with the time left. */
export function renderHeld(held: readonly { address: string; owner: string; allocationId: string; secondsLeft: number }[]): string {
  const rows = held.slice(0, SHOW_ROWS).map((h) => [h.address, "held", `${h.secondsLeft} s`, displayText(h.owner), h.allocationId]);
  return renderTable(["ADDRESS", "STATE", "TIME LEFT", "RELEASED BY", "ALLOCATION"], rows);
}

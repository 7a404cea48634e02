import type { Subnet, SubnetUsage } from "../core/types.js";
import type { SubnetUsageReport } from "../store/reports/usageQueries.js";
import type { SubnetTreeReport } from "../store/reports/usageTree.js";
import { treeLabel } from "./subnetTree.js";
import { displayText, paint, renderTable } from "./terminal.js";
import { usageBar } from "./usageBar.js";

/** Totals of one namespace for one IP version (IPv4 and IPv6 sizes are not worth adding up). */
export interface NamespaceUsage {
  readonly namespace: string;
  readonly ipVersion: 4 | 6;
  readonly subnets: number;
  readonly poolSize: string;
  /** Pool addresses in use: the pool minus what is free. */
  readonly inUse: string;
  readonly allocated: string;
  readonly outsidePool: string;
}

/**
 * Pool sizes add up over the subnets that hand out addresses, each address once: a child's block
 * already counts as in use in a parent that hands out addresses itself, and a children-only
 * parent's pool is its children's. `subnets` counts every subnet shown.
 */
export function namespaceTotals(reports: readonly SubnetUsageReport[]): NamespaceUsage[] {
  const shown = new Map(reports.map((report) => [report.subnet.id, report.subnet]));
  const totals = new NamespaceTotals();
  for (const report of reports) totals.add(report, ownPoolCounts(report.subnet, shown));
  return totals.list();
}

/** Namespace totals added up a report at a time (`ownPool`: this subnet's pool counts, see namespaceTotals). */
export class NamespaceTotals {
  private readonly totals = new Map<string, { namespace: string; ipVersion: 4 | 6; subnets: number; poolSize: bigint; inUse: bigint; allocated: bigint; outsidePool: bigint }>();

  add({ subnet, usage }: SubnetUsageReport, ownPool: boolean): void {
    const key = `${subnet.namespace}\u0000${subnet.ipVersion}`;
    const total = this.totals.get(key) ?? { namespace: subnet.namespace, ipVersion: subnet.ipVersion, subnets: 0, poolSize: 0n, inUse: 0n, allocated: 0n, outsidePool: 0n };
    total.subnets += 1;
    if (ownPool) {
      total.poolSize += BigInt(usage.poolSize);
      total.inUse += BigInt(usage.poolSize) - BigInt(usage.free);
    }
    total.allocated += BigInt(usage.allocated);
    total.outsidePool += BigInt(usage.outsidePool);
    this.totals.set(key, total);
  }

  list(): NamespaceUsage[] {
    return [...this.totals.values()].map((t) => ({ ...t, poolSize: String(t.poolSize), inUse: String(t.inUse), allocated: String(t.allocated), outsidePool: String(t.outsidePool) }));
  }
}

/** Not children-only, and no shown ancestor hands out addresses (its pool holds this one's block). */
function ownPoolCounts(subnet: Subnet, shown: ReadonlyMap<string, Subnet>): boolean {
  if (subnet.childrenOnly) return false;
  for (let parent = shown.get(subnet.parentId ?? ""); parent !== undefined; parent = shown.get(parent.parentId ?? "")) {
    if (!parent.childrenOnly) return false;
  }
  return true;
}

/**
 * Namespaces, then subnets in tree order (children indented under their parent, with columns for
 * children when any subnet shown has some), then holders, then the addresses outside the pools.
 */
export function renderUsage(reports: readonly SubnetTreeReport[], truncatedReason: string | null = null): string {
  const shown = new Map(reports.map((report) => [report.subnet.id, report.subnet]));
  const view = new UsageView();
  for (const report of reports) view.add(report, ownPoolCounts(report.subnet, shown));
  return view.render(truncatedReason);
}

/**
 * What renderUsage prints, gathered a report at a time: only the table cells and the totals are
 * kept, not the reports, so `ipam usage` of 100k subnets holds text, not 100k report objects.
 */
export class UsageView {
  private readonly totals = new NamespaceTotals();
  private readonly subnets: string[][] = [];
  private readonly owners: string[][] = [];
  private readonly outside: string[][] = [];
  private readonly held: string[][] = [];
  private withChildren = false;

  /** Add the next report in tree order; `ownPool` as namespaceTotals decides it. */
  add(report: SubnetTreeReport, ownPool: boolean): void {
    this.totals.add(report, ownPool);
    const rows = usageRows(report);
    if (rows.withChildren) this.withChildren = true;
    this.subnets.push(rows.subnet);
    this.owners.push(...rows.owners);
    this.outside.push(...rows.outside);
    this.held.push(...rows.held);
  }

  render(truncatedReason: string | null = null): string {
    if (this.subnets.length === 0) return "no subnets";
    const sections: string[] = [namespacesSection(this.totals)];
    const subnets = subnetsTable(this.withChildren);
    sections.push("", subnets.title(), renderTable(subnets.head, this.withChildren ? this.subnets : this.subnets.map((row) => row.slice(0, subnets.head.length)), subnets.align));
    if (truncatedReason !== null) sections.push(`… not the whole tree: ${truncatedReason}`);
    for (const [table, rows] of [[OWNERS_TABLE, this.owners], [OUTSIDE_TABLE, this.outside], [HELD_TABLE, this.held]] as const) {
      if (rows.length > 0) sections.push("", table.title(), renderTable(table.head, rows, table.align));
    }
    return sections.join("\n");
  }
}

/** A table of the usage view: its section title (painted when printed), column titles and alignment. */
export interface UsageTable {
  readonly title: () => string;
  readonly head: readonly string[];
  readonly align: readonly ("left" | "right")[];
}

const SUBNET_HEAD = ["ID", "NAMESPACE", "SUBNET", "POOL USE", "IN USE / POOL", "FREE", "ALLOCATED", "OUTSIDE POOLS", "OWNERS"];
const SUBNET_ALIGN = ["right", "left", "left", "left", "right", "right", "right", "right", "right"] as const;

/** The Subnets table: with columns for children when any subnet shown has some (rows hold them always). */
export function subnetsTable(withChildren: boolean): UsageTable {
  return withChildren
    ? { title: () => paint("bold", "Subnets"), head: [...SUBNET_HEAD, "CHILDREN", "CHILD ADDRESSES", "ROOM FOR CHILDREN"], align: [...SUBNET_ALIGN, "right", "right", "right"] }
    : { title: () => paint("bold", "Subnets"), head: SUBNET_HEAD, align: SUBNET_ALIGN };
}

export const OWNERS_TABLE: UsageTable = { title: () => paint("bold", "Owners"), head: ["ID", "SUBNET", "OWNER", "ALLOCATIONS", "ADDRESSES"], align: ["right", "left", "left", "right", "right"] };
export const OUTSIDE_TABLE: UsageTable = {
  title: () => paint(["bold", "yellow"], "⚠ Allocated outside the pools (still valid; once released they are not handed out again)"),
  head: ["ID", "SUBNET", "ADDRESS", "OWNER", "ALLOCATION"],
  align: ["right", "left", "left", "left", "right"],
};
export const HELD_TABLE: UsageTable = {
  title: () => paint("bold", "Held after release (hold-down: not handed out until the time is up)"),
  head: ["ID", "SUBNET", "ADDRESS", "STATE", "RELEASED BY"],
  align: ["right", "left", "left", "left", "left"],
};

/** The Namespaces section (title and table) from the totals. */
export function namespacesSection(totals: NamespaceTotals): string {
  const namespaces = totals.list().map((n) => [
    displayText(n.namespace),
    `IPv${n.ipVersion}`,
    String(n.subnets),
    usageBar(BigInt(n.inUse), BigInt(n.poolSize)),
    `${n.inUse} / ${n.poolSize}`,
    flagged(n.outsidePool),
  ]);
  return `${paint("bold", "Namespaces")}\n${renderTable(["NAMESPACE", "IP", "SUBNETS", "POOL USE", "IN USE / POOL", "OUTSIDE POOLS"], namespaces, ["left", "left", "right", "left", "right", "right"])}`;
}

/** The rows one report adds to each table (the subnet's row with its children columns; drop them when no subnet has children). */
export function usageRows(report: SubnetTreeReport): { subnet: string[]; withChildren: boolean; owners: string[][]; outside: string[][]; held: string[][] } {
  const { subnet, usage, owners, outsidePool } = report;
  const row = [subnet.id, displayText(subnet.namespace), treeLabel(report), ...poolColumns(subnet.childrenOnly, usage), usage.allocated, flagged(usage.outsidePool), String(owners.length)];
  const held: string[][] = [];
  if (usage.held !== "0") {
    const list = report.held ?? [];
    if (list.length > 0) for (const h of list) held.push([subnet.id, subnet.cidr, h.address, `held, ${h.secondsLeft} s left`, displayText(h.owner)]);
    else held.push([subnet.id, subnet.cidr, `${usage.held} address(es)`, "held", "-"]);
  }
  for (const b of report.heldBlocks ?? []) held.push([subnet.id, subnet.cidr, `child prefix ${b.cidr}`, `held, ${b.secondsLeft} s left`, `child subnet ${b.childId}`]);
  return {
    subnet: [...row, String(usage.childPrefixes), usage.childAddresses, usage.childSpaceFree],
    withChildren: usage.childPrefixes > 0,
    owners: owners.map((o) => [subnet.id, subnet.cidr, displayText(o.owner), String(o.allocations), o.addresses]),
    outside: outsidePool.map((o) => [subnet.id, subnet.cidr, o.address, displayText(o.owner), o.allocationId]),
    held,
  };
}

/**
 * POOL USE, IN USE / POOL and FREE. A children-only subnet hands out no addresses, so a pool bar
 * would read 100% however much room is left for children.
 */
function poolColumns(childrenOnly: boolean, usage: SubnetUsage): string[] {
  if (childrenOnly) return ["children only", "-", "-"];
  const inUse = BigInt(usage.poolSize) - BigInt(usage.free);
  return [usageBar(inUse, BigInt(usage.poolSize)), `${inUse} / ${usage.poolSize}`, usage.free];
}

function flagged(count: string): string {
  return count === "0" ? "0" : paint("yellow", `⚠ ${count}`);
}

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
    const { subnet, usage, owners, outsidePool } = report;
    this.totals.add(report, ownPool);
    if (usage.childPrefixes > 0) this.withChildren = true;
    const row = [subnet.id, displayText(subnet.namespace), treeLabel(report), ...poolColumns(subnet.childrenOnly, usage), usage.allocated, flagged(usage.outsidePool), String(owners.length)];
    this.subnets.push([...row, String(usage.childPrefixes), usage.childAddresses, usage.childSpaceFree]);
    for (const o of owners) this.owners.push([subnet.id, subnet.cidr, displayText(o.owner), String(o.allocations), o.addresses]);
    for (const o of outsidePool) this.outside.push([subnet.id, subnet.cidr, o.address, displayText(o.owner), o.allocationId]);
    if (usage.held !== "0") {
      const list = report.held ?? [];
      if (list.length > 0) for (const h of list) this.held.push([subnet.id, subnet.cidr, h.address, `held, ${h.secondsLeft} s left`, displayText(h.owner)]);
      else this.held.push([subnet.id, subnet.cidr, `${usage.held} address(es)`, "held", "-"]);
    }
    for (const b of report.heldBlocks ?? []) this.held.push([subnet.id, subnet.cidr, `child prefix ${b.cidr}`, `held, ${b.secondsLeft} s left`, `child subnet ${b.childId}`]);
  }

  render(truncatedReason: string | null = null): string {
    if (this.subnets.length === 0) return "no subnets";
    const sections: string[] = [];
    const namespaces = this.totals.list().map((n) => [
      displayText(n.namespace),
      `IPv${n.ipVersion}`,
      String(n.subnets),
      usageBar(BigInt(n.inUse), BigInt(n.poolSize)),
      `${n.inUse} / ${n.poolSize}`,
      flagged(n.outsidePool),
    ]);
    sections.push(paint("bold", "Namespaces"), renderTable(["NAMESPACE", "IP", "SUBNETS", "POOL USE", "IN USE / POOL", "OUTSIDE POOLS"], namespaces, ["left", "left", "right", "left", "right", "right"]));

    const head = ["ID", "NAMESPACE", "SUBNET", "POOL USE", "IN USE / POOL", "FREE", "ALLOCATED", "OUTSIDE POOLS", "OWNERS"];
    const align = ["right", "left", "left", "left", "right", "right", "right", "right", "right"] as const;
    sections.push(
      "",
      paint("bold", "Subnets"),
      this.withChildren
        ? renderTable([...head, "CHILDREN", "CHILD ADDRESSES", "ROOM FOR CHILDREN"], this.subnets, [...align, "right", "right", "right"])
        : renderTable(head, this.subnets.map((row) => row.slice(0, head.length)), align),
    );
    if (truncatedReason !== null) sections.push(`… not the whole tree: ${truncatedReason}`);

    if (this.owners.length > 0) sections.push("", paint("bold", "Owners"), renderTable(["ID", "SUBNET", "OWNER", "ALLOCATIONS", "ADDRESSES"], this.owners, ["right", "left", "left", "right", "right"]));
    if (this.outside.length > 0) {
      sections.push(
        "",
        paint(["bold", "yellow"], "⚠ Allocated outside the pools (still valid; once released they are not handed out again)"),
        renderTable(["ID", "SUBNET", "ADDRESS", "OWNER", "ALLOCATION"], this.outside, ["right", "left", "left", "left", "right"]),
      );
    }
    if (this.held.length > 0) {
      sections.push("", paint("bold", "Held after release (hold-down: not handed out until the time is up)"), renderTable(["ID", "SUBNET", "ADDRESS", "STATE", "RELEASED BY"], this.held, ["right", "left", "left", "left", "left"]));
    }
    return sections.join("\n");
  }
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

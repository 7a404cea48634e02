import { displayJson } from "../core/displayText.js";
import { LIMITS } from "../core/schemas.js";
import type { Ipam } from "../store/Ipam.js";
import type { SubnetTreeReport } from "../store/reports/usageTree.js";
import { subnetsAbove, type CapacityBreach } from "./capacityGate.js";
import { NamespaceTotals, UsageView } from "./usageView.js";

export interface TreeOrderedReport {
  readonly report: SubnetTreeReport;
  /** Whether its pool counts in the namespace totals (see namespaceTotals). */
  readonly ownPool: boolean;
}

/**
 * Every subnet's usage report (of one namespace, or all), a page at a time, in the order the
 * database pages them: (namespace, CIDR, id). That is already tree order: a child shares its
 * parent's namespace and lies strictly inside it, so it sorts after its parent (same network, longer
 * prefix, or a higher network) and before the parent's next sibling (which starts past the parent's
 * last address). Only the current chain of ancestors is kept, for the depth and the totals, so
 * memory does not grow with the number of subnets (issue 25: 100k subnets held ~820 MiB).
 */
export async function* usageInTreeOrder(ipam: Ipam, filter: { namespace?: string }): AsyncGenerator<TreeOrderedReport> {
  const ancestors: { id: string; childrenOnly: boolean }[] = [];
  for (let after: string | null | undefined; after !== null; ) {
    const page = await ipam.usagePage(filter, { limit: LIMITS.pageSize, ...(after === undefined ? {} : { after }) });
    for (const report of page.reports) {
      const { subnet } = report;
      // Leave the branches this subnet is not under; a parent not shown makes it top-level (as subnetTree).
      while (ancestors.length > 0 && ancestors.at(-1)!.id !== subnet.parentId) ancestors.pop();
      const ownPool = !subnet.childrenOnly && ancestors.every((ancestor) => ancestor.childrenOnly);
      yield { report: { ...report, depth: ancestors.length }, ownPool };
      ancestors.push({ id: subnet.id, childrenOnly: subnet.childrenOnly });
    }
    after = page.next;
  }
}

/**
 * `ipam usage` as text: what renderUsage prints for every subnet, gathered as cells, not reports;
 * with `failAbove` (hundredths of a percent), the subnets above it (subnetsAbove, a report at a time).
 */
export async function usageText(ipam: Ipam, filter: { namespace?: string }, failAbove?: number): Promise<{ text: string; above: CapacityBreach[] }> {
  const view = new UsageView();
  const above: CapacityBreach[] = [];
  for await (const { report, ownPool } of usageInTreeOrder(ipam, filter)) {
    view.add(report, ownPool);
    if (failAbove !== undefined) above.push(...subnetsAbove([report], failAbove));
  }
  return { text: view.render(null), above };
}

/**
 * `ipam usage --json`: the text of `displayJson({ namespaces, subnets, truncated: false,
 * truncatedReason: null, failAbove? }, 2)`, written as it is read. The totals come first in the document, so
 * they are added up in a first pass and the subnets written in a second (each pass reads pages at
 * their own moments, as the pages of one pass always did).
 */
export async function writeUsageJson(
  ipam: Ipam,
  filter: { namespace?: string },
  write: (chunk: string) => Promise<void>,
  failAbove?: number,
): Promise<CapacityBreach[]> {
  const totals = new NamespaceTotals();
  const above: CapacityBreach[] = [];
  for await (const { report, ownPool } of usageInTreeOrder(ipam, filter)) {
    totals.add(report, ownPool);
    if (failAbove !== undefined) above.push(...subnetsAbove([report], failAbove));
  }
  const indented = (value: unknown, depth: number) => displayJson(value, 2).replaceAll("\n", `\n${" ".repeat(depth)}`);
  await write(`{\n  "namespaces": ${indented(totals.list(), 2)},\n  "subnets": [`);
  let first = true;
  let batch: string[] = [];
  for await (const { report } of usageInTreeOrder(ipam, filter)) {
    batch.push(`${first ? "" : ","}\n    ${indented(report, 4)}`);
    first = false;
    if (batch.length >= LIMITS.pageSize) {
      await write(batch.join(""));
      batch = [];
    }
  }
  const gate = failAbove === undefined ? "" : `,\n  "failAbove": ${indented({ percent: failAbove / 100, subnets: above }, 2)}`;
  await write(`${batch.join("")}${first ? "]" : "\n  ]"},\n  "truncated": false,\n  "truncatedReason": null${gate}\n}\n`);
  return above;
}

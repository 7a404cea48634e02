import { displayJson } from "../core/displayText.js";
import { LIMITS } from "../core/schemas.js";
import type { Ipam } from "../store/Ipam.js";
import type { SubnetTreeReport } from "../store/reports/usageTree.js";
import { subnetsAbove, type CapacityBreach } from "./capacityGate.js";
import { ColumnWidths, TableInParts } from "./terminal.js";
import { HELD_TABLE, NamespaceTotals, namespacesSection, OUTSIDE_TABLE, OWNERS_TABLE, subnetsTable, usageRows } from "./usageView.js";

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
 * `ipam usage` as text: exactly what renderUsage prints, written as it is read. A first pass adds up
 * the totals and sizes every table's columns (numbers, not cells: 100k subnets held ~470 MiB of
 * cells, issue 25); then one pass per table writes its rows a page at a time with those widths (the
 * Owners, outside-the-pools and held tables come after the Subnets table, each in tree order). Each
 * pass reads pages at their own moments, as the JSON view's two passes do; should the data change
 * between passes, a wider cell widens its page's column instead of being cut.
 * With `failAbove` (hundredths of a percent), the subnets above it (subnetsAbove, a report at a time).
 */
export async function writeUsageText(ipam: Ipam, filter: { namespace?: string }, write: (chunk: string) => Promise<void>, failAbove?: number): Promise<CapacityBreach[]> {
  const totals = new NamespaceTotals();
  const above: CapacityBreach[] = [];
  const full = subnetsTable(true);
  const subnetWidths = new ColumnWidths(full.head);
  const others = [OWNERS_TABLE, OUTSIDE_TABLE, HELD_TABLE].map((table) => ({ table, widths: new ColumnWidths(table.head), rows: 0 }));
  let subnets = 0;
  let withChildren = false;
  for await (const { report, ownPool } of usageInTreeOrder(ipam, filter)) {
    totals.add(report, ownPool);
    if (failAbove !== undefined) above.push(...subnetsAbove([report], failAbove));
    const rows = usageRows(report);
    subnets += 1;
    withChildren ||= rows.withChildren;
    subnetWidths.add(rows.subnet);
    otherRows(rows).forEach((list, index) => {
      for (const row of list) others[index]!.widths.add(row);
      others[index]!.rows += list.length;
    });
  }
  if (subnets === 0) {
    await write("no subnets\n");
    return above;
  }
  const table = subnetsTable(withChildren);
  const columns = table.head.length;
  await writeTable(`${namespacesSection(totals)}\n\n${table.title()}`, new TableInParts(table.head, table.align, subnetWidths.widths.slice(0, columns)), async function* () {
    for await (const { report } of usageInTreeOrder(ipam, filter)) yield [usageRows(report).subnet.slice(0, columns)];
  }, write);
  for (const [index, { table: other, widths, rows }] of others.entries()) {
    if (rows === 0) continue;
    await writeTable(`\n\n${other.title()}`, new TableInParts(other.head, other.align, widths.widths), async function* () {
      for await (const { report } of usageInTreeOrder(ipam, filter)) yield otherRows(usageRows(report))[index]!;
    }, write);
  }
  await write("\n");
  return above;
}

function otherRows(rows: ReturnType<typeof usageRows>): string[][][] {
  return [rows.owners, rows.outside, rows.held];
}

/** `before`, then the table: its top, its rows a page at a time, its bottom. */
async function writeTable(before: string, table: TableInParts, rowsOf: () => AsyncGenerator<string[][]>, write: (chunk: string) => Promise<void>): Promise<void> {
  await write(`${before}\n${table.top()}`);
  let page: string[][] = [];
  for await (const rows of rowsOf()) {
    page.push(...rows);
    if (page.length >= LIMITS.pageSize) {
      await write(`\n${table.body(page)}`);
      page = [];
    }
  }
  await write(`${page.length > 0 ? `\n${table.body(page)}` : ""}\n${table.bottom()}`);
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

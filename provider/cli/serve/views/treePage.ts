import type { SubnetUsageReport } from "../../../store/Ipam.js";
import { treeLabel } from "../../subnetTree.js";
import { heldAddresses } from "../heldAddresses.js";
import { html, query, type Html } from "./html.js";
import { page } from "./layout.js";
import { countText, percentText, usageBar } from "./usageBar.js";

export const TREE_SORTS = ["tree", "used", "free", "allocated", "children"] as const;
export type TreeSort = (typeof TREE_SORTS)[number];

export interface TreeView {
  readonly namespace: string | undefined;
  readonly after: string | undefined;
  readonly limit: number;
  readonly sort: TreeSort;
  readonly entries: readonly (SubnetUsageReport & { depth: number })[];
  readonly next: string | null;
}

/** Pool figures of one subnet as bigints: used (allocated in the pools), held (hold-down), free. */
export function poolFigures(report: SubnetUsageReport): { pool: bigint; used: bigint; held: bigint; free: bigint } {
  const pool = BigInt(report.usage.poolSize);
  const free = BigInt(report.usage.free);
  const held = heldAddresses(report.usage);
  return { pool, free, held, used: pool - free - held };
}

/** Rows of one page in the order asked for: the tree (the store's keyset order), or fullest first within the page. */
export function sortEntries<E extends SubnetUsageReport & { depth: number }>(entries: readonly E[], sort: TreeSort): E[] {
  if (sort === "tree") return [...entries];
  const key = (report: SubnetUsageReport): bigint => {
    const figures = poolFigures(report);
    if (sort === "used") return figures.pool === 0n ? -1n : (figures.used * 1_000_000n) / figures.pool;
    if (sort === "free") return figures.free;
    if (sort === "allocated") return BigInt(report.usage.allocated);
    return BigInt(report.usage.childPrefixes);
  };
  return [...entries].sort((a, b) => (key(b) > key(a) ? 1 : key(b) < key(a) ? -1 : Number(a.subnet.id) - Number(b.subnet.id)));
}

/** The subnets of a page grouped by namespace, children under their parents, with bars. */
export function treePage(view: TreeView): Html {
  const link = (changes: Record<string, string | number | undefined>) =>
    `/${query({ namespace: view.namespace, after: view.after, limit: view.limit === 100 ? undefined : view.limit, sort: view.sort === "tree" ? undefined : view.sort, ...changes })}`;
  const namespaces = [...new Set(view.entries.map((entry) => entry.subnet.namespace))];
  const heading = (sort: TreeSort, label: string, numeric = true) =>
    html`<th class="${numeric ? "num" : ""}">${view.sort === sort ? html`<strong>${label} ▾</strong>` : html`<a href="${link({ sort: sort === "tree" ? undefined : sort })}">${label}</a>`}</th>`;
  const tables = namespaces.map((namespace) => {
    const rows = sortEntries(view.entries.filter((entry) => entry.subnet.namespace === namespace), view.sort);
    return html`<section class="namespace">
<h2>namespace <a href="${`/${query({ namespace })}`}">${namespace}</a></h2>
<table class="subnets">
<thead><tr><th class="num">ID</th>${heading("tree", "Subnet", false)}<th>Pool use</th>${heading("used", "Used %")}<th class="num">Used / pool</th><th class="num">Held</th>${heading("free", "Free")}${heading("allocated", "Allocated")}${heading("children", "Children")}<th class="num">Owners</th></tr></thead>
<tbody>
${rows.map((entry) => subnetRow(entry, view.sort === "tree"))}
</tbody>
</table>
</section>`;
  });
  const pager = html`<p class="pager">${view.after === undefined ? "" : html`<a href="${link({ after: undefined })}" rel="first">first page</a>`}${
    view.next === null ? html`<span class="muted">last page</span>` : html`<a href="${link({ after: view.next })}" rel="next">next page →</a>`
  }</p>`;
  const scope = view.namespace === undefined ? "all namespaces" : html`namespace ${view.namespace} (<a href="/">all</a>)`;
  const fullest = html` <a href="${`/fullest${query({ namespace: view.namespace })}`}">fullest first across all pages</a>`;
  const sortNote = view.sort === "tree" ? fullest : html` Sorted within this page; pages follow the tree (namespace, CIDR);${fullest}.`;
  const content = html`<p class="muted">${scope}: ${view.entries.length} subnet(s) on this page, at most ${view.limit} a page.${sortNote}</p>
${view.entries.length === 0 ? html`<p>No subnets.</p>` : tables}
${pager}`;
  return page("Subnets", content);
}

function subnetRow(entry: SubnetUsageReport & { depth: number }, indent: boolean): Html {
  const { subnet, usage, owners } = entry;
  const figures = poolFigures(entry);
  const label = indent ? treeLabel(entry) : subnet.cidr;
  const pool = subnet.childrenOnly
    ? html`<td class="muted">children only</td><td class="num">-</td><td class="num">-</td>`
    : html`<td>${usageBar(figures.used, figures.held, figures.pool)}</td><td class="num">${percentText(figures.used + figures.held, figures.pool)}</td><td class="num">${countText(figures.used)} / ${countText(figures.pool)}</td>`;
  return html`<tr data-subnet="${subnet.id}"><td class="num">${subnet.id}</td><td class="cidr"><a href="/subnets/${subnet.id}">${label}</a></td>${pool}<td class="num">${countText(figures.held)}</td><td class="num">${countText(usage.free)}</td><td class="num">${countText(usage.allocated)}</td><td class="num">${usage.childPrefixes}</td><td class="num">${owners.length}</td></tr>
`;
}

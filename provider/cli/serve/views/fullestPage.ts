import type { SubnetMetric } from "../../../store/Ipam.js";
import { heldAddresses } from "../heldAddresses.js";
import { html, query, type Html } from "./html.js";
import { page } from "./layout.js";
import { countText, percentText, usageBar } from "./usageBar.js";

export interface FullestView {
  readonly namespace: string | undefined;
  readonly offset: number;
  readonly limit: number;
  readonly total: number;
  readonly subnets: readonly SubnetMetric[];
}

/** Pool use in millionths, for ordering: held addresses are not free either. */
function useOf(metric: SubnetMetric): bigint {
  const pool = BigInt(metric.poolSize);
  return pool === 0n || metric.childrenOnly ? -1n : ((pool - BigInt(metric.free)) * 1_000_000n) / pool;
}

/** Every subnet (of a namespace) fullest first, ties by id; children-only and empty pools last. */
export function fullestFirst(metrics: readonly SubnetMetric[]): SubnetMetric[] {
  const keyed = metrics.map((metric) => ({ metric, use: useOf(metric) }));
  keyed.sort((a, b) => (b.use > a.use ? 1 : b.use < a.use ? -1 : Number(a.metric.subnetId) - Number(b.metric.subnetId)));
  return keyed.map((entry) => entry.metric);
}

/** The fullest subnets across every page: what an operator looks for before a pool runs out. */
export function fullestPage(view: FullestView): Html {
  const link = (offset: number) => `/fullest${query({ namespace: view.namespace, offset: offset === 0 ? undefined : offset, limit: view.limit === 100 ? undefined : view.limit })}`;
  const rows = view.subnets.map((metric) => {
    const pool = BigInt(metric.poolSize);
    const held = heldAddresses(metric);
    const used = pool - BigInt(metric.free) - held;
    const bar = metric.childrenOnly
      ? html`<td class="muted">children only</td><td class="num">-</td>`
      : html`<td>${usageBar(used, held, pool)}</td><td class="num">${percentText(used + held, pool)}</td>`;
    return html`<tr data-subnet="${metric.subnetId}"><td class="num">${metric.subnetId}</td><td>${metric.namespace}</td><td class="cidr"><a href="/subnets/${metric.subnetId}">${metric.cidr}</a></td>${bar}<td class="num">${countText(used)} / ${countText(pool)}</td><td class="num">${countText(held)}</td><td class="num">${countText(metric.free)}</td><td class="num">${countText(metric.allocated)}</td><td class="num">${metric.childPrefixes}</td></tr>`;
  });
  const end = view.offset + view.subnets.length;
  const content = html`<p class="muted">${view.namespace === undefined ? "all namespaces" : html`namespace ${view.namespace}`}: subnets ${view.subnets.length === 0 ? 0 : view.offset + 1}–${end} of ${view.total}, fullest pool first (read at once for the whole ${view.namespace === undefined ? "installation" : "namespace"}). <a href="/${query({ namespace: view.namespace })}">tree view</a></p>
<table class="subnets"><thead><tr><th class="num">ID</th><th>Namespace</th><th>Subnet</th><th>Pool use</th><th class="num">Used %</th><th class="num">Used / pool</th><th class="num">Held</th><th class="num">Free</th><th class="num">Allocated</th><th class="num">Children</th></tr></thead>
<tbody>${rows}</tbody></table>
<p class="pager">${view.offset > 0 ? html`<a href="${link(Math.max(0, view.offset - view.limit))}" rel="prev">← fuller</a>` : ""}${end < view.total ? html`<a href="${link(end)}" rel="next">less full →</a>` : html`<span class="muted">last page</span>`}</p>`;
  return page("Fullest subnets", content);
}

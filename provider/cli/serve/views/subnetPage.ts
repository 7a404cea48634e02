import type { Allocation, Subnet } from "../../../core/types.js";
import type { SubnetMapData, SubnetUsageReport } from "../../../store/Ipam.js";
import { summarizeAddresses } from "../../addressSummary.js";
import { addressMap } from "./addressMap.js";
import { html, query, stackOf, tagList, type Html } from "./html.js";
import { page } from "./layout.js";
import { poolFigures } from "./treePage.js";
import { countText, percentText, usageBar } from "./usageBar.js";

export interface SubnetView {
  readonly report: SubnetUsageReport;
  readonly children: { readonly subnets: readonly Subnet[]; readonly next: string | null; readonly after: string | undefined };
  readonly allocations: { readonly allocations: readonly Allocation[]; readonly next: string | null; readonly after: string | undefined };
  readonly map: SubnetMapData;
}

/** Fields, pools, gateway, reserved, children, allocations (paged) and the address map of one subnet. */
export function subnetPage(view: SubnetView): Html {
  const { subnet, usage } = view.report;
  const figures = poolFigures(view.report);
  const here = (changes: Record<string, string | undefined>) =>
    `/subnets/${subnet.id}${query({ children_after: view.children.after, allocations_after: view.allocations.after, ...changes })}`;
  const content = html`<dl class="fields">
<dt>id</dt><dd>${subnet.id}</dd>
<dt>namespace</dt><dd><a href="/?namespace=${encodeURIComponent(subnet.namespace)}">${subnet.namespace}</a></dd>
<dt>parent</dt><dd>${subnet.parentId === null ? html`<span class="muted">none (top level)</span>` : html`<a href="/subnets/${subnet.parentId}">subnet ${subnet.parentId}</a>`}</dd>
<dt>description</dt><dd class="description">${subnet.description || "-"}</dd>
<dt>tags</dt><dd>${tagList(subnet.tags)}</dd>
<dt>gateway</dt><dd class="mono">${subnet.gateway ?? "none"}</dd>
<dt>pools</dt><dd class="mono">${subnet.childrenOnly ? "children only: " : ""}${subnet.allocationPools.map((pool) => `${pool.start}-${pool.end}`).join(", ") || "none"}${subnet.allocationPoolsExplicit ? "" : " (default)"}</dd>
<dt>reserved</dt><dd class="mono">${subnet.reserved.join(", ") || "none"}</dd>
<dt>pool use</dt><dd>${usageBar(figures.used, figures.held, figures.pool)} ${percentText(figures.used + figures.held, figures.pool)}: ${countText(figures.used)} used, ${countText(figures.held)} held, ${countText(usage.free)} free of ${countText(usage.poolSize)}; ${countText(usage.allocated)} allocated (${usage.outsidePool} outside the pools)</dd>
<dt>children</dt><dd>${usage.childPrefixes} (${usage.childAddresses} addresses; room for ${usage.childSpaceFree} more)</dd>
<dt>history</dt><dd><a href="/history?subnet=${subnet.id}">changes to this subnet</a></dd>
<dt>JSON</dt><dd><a href="/api/v1/subnets/${subnet.id}">/api/v1/subnets/${subnet.id}</a></dd>
</dl>
${heldTable(view.report)}
<h2>Address map</h2>
${addressMap(view.map)}
<h2>Child subnets</h2>
${view.children.subnets.length === 0 ? html`<p class="muted">none</p>` : html`<table class="children"><thead><tr><th class="num">ID</th><th>CIDR</th><th>Description</th></tr></thead><tbody>${view.children.subnets.map(
    (child) => html`<tr><td class="num">${child.id}</td><td class="cidr"><a href="/subnets/${child.id}">${child.cidr}</a></td><td>${child.description}</td></tr>`,
  )}</tbody></table>`}
${view.children.next === null ? "" : html`<p class="pager"><a href="${here({ children_after: view.children.next })}">more children →</a></p>`}
<h2>Allocations</h2>
${view.allocations.allocations.length === 0 ? html`<p class="muted">none</p>` : allocationTable(view.allocations.allocations)}
<p class="pager">${view.allocations.after === undefined ? "" : html`<a href="${here({ allocations_after: undefined })}">first allocations</a>`}${
    view.allocations.next === null ? "" : html`<a href="${here({ allocations_after: view.allocations.next })}" rel="next">more allocations →</a>`
  }</p>`;
  return page(`Subnet ${subnet.cidr}`, content);
}

/** Released addresses in hold-down, soonest to expire first, with the time left (as `ipam subnet show`). */
function heldTable(report: SubnetUsageReport): Html | string {
  const held = report.held ?? [];
  if (held.length === 0) return "";
  const more = BigInt(report.usage.held) - BigInt(held.length);
  return html`<h2>Held (hold-down after release)</h2>
<table class="held"><thead><tr><th>Address</th><th class="num">Time left</th><th>Released by</th><th class="num">Allocation</th></tr></thead><tbody>${held.map(
    (h) => html`<tr data-held-address="${h.address}"><td class="mono">${h.address}</td><td class="num">${h.secondsLeft} s</td><td class="owner">${h.owner}</td><td class="num">${h.allocationId}</td></tr>`,
  )}</tbody></table>${more > 0n ? html`<p class="muted">and ${countText(more)} more</p>` : ""}`;
}

function allocationTable(allocations: readonly Allocation[]): Html {
  return html`<table class="allocations"><thead><tr><th class="num">ID</th><th>Addresses</th><th>Owner</th><th>Stack</th><th>Description</th><th>Tags</th></tr></thead><tbody>${allocations.map(
    (allocation) =>
      html`<tr data-allocation="${allocation.id}"><td class="num"><a href="/allocations/${allocation.id}">${allocation.id}</a></td><td class="mono">${summarizeAddresses(allocation.addresses, 3, allocation.addresses.length)}</td><td class="owner"><a href="/history?owner=${encodeURIComponent(allocation.owner)}">${allocation.owner}</a></td><td>${stackOf(allocation.owner) ?? "-"}</td><td class="description">${allocation.description}</td><td>${tagList(allocation.tags)}</td></tr>`,
  )}</tbody></table>`;
}

import type { AuditEvent } from "../../../core/historyFilter.js";
import type { Allocation, Subnet } from "../../../core/types.js";
import { historyTable } from "./historyPage.js";
import { html, stackOf, tagList, type Html } from "./html.js";
import { page } from "./layout.js";

/** One allocation: who holds which addresses of which subnet, and what happened to it. */
export function allocationPage(allocation: Allocation, subnet: Subnet, events: readonly AuditEvent[]): Html {
  const stack = stackOf(allocation.owner);
  const content = html`<dl class="fields">
<dt>id</dt><dd>${allocation.id}</dd>
<dt>subnet</dt><dd><a href="/subnets/${subnet.id}">${subnet.cidr}</a> (namespace ${subnet.namespace})</dd>
<dt>owner</dt><dd class="owner"><a href="/history?owner=${encodeURIComponent(allocation.owner)}">${allocation.owner}</a></dd>
<dt>stack</dt><dd>${stack ?? "-"}</dd>
<dt>description</dt><dd class="description">${allocation.description || "-"}</dd>
<dt>tags</dt><dd>${tagList(allocation.tags)}</dd>
<dt>strategy</dt><dd>${allocation.strategy}</dd>
<dt>idempotency key</dt><dd class="mono">${allocation.idempotencyKey ?? "-"}</dd>
<dt>created</dt><dd>${allocation.createdAt}</dd>
<dt>updated</dt><dd>${allocation.updatedAt}</dd>
<dt>JSON</dt><dd><a href="/api/v1/allocations/${allocation.id}">/api/v1/allocations/${allocation.id}</a></dd>
</dl>
<h2>Addresses (${allocation.addresses.length})</h2>
<ul class="addresses mono">${allocation.addresses.map((address) => html`<li><a href="/history?address=${encodeURIComponent(address)}">${address}</a></li>`)}</ul>
<h2>History</h2>
${historyTable(events)}
<p><a href="/history?allocation=${allocation.id}">all events of this allocation</a></p>`;
  return page(`Allocation ${allocation.id}`, content);
}

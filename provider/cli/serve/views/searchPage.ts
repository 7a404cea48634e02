import type { Allocation, Subnet } from "../../../core/types.js";
import { html, type Html } from "./html.js";
import { page } from "./layout.js";

/** What a search found when it was not exactly one thing to open. */
export function searchPage(text: string, found: { subnets: readonly Subnet[]; allocations: readonly Allocation[] }, title = `Search: ${text}`): Html {
  const content = html`${found.allocations.length === 0 ? "" : html`<h2>Held by</h2><ul>${found.allocations.map(
    (allocation) => html`<li><a href="/allocations/${allocation.id}">allocation ${allocation.id}</a> — <span class="owner">${allocation.owner}</span></li>`,
  )}</ul>`}
<h2>Subnets containing it</h2>
${found.subnets.length === 0 ? html`<p class="muted">none</p>` : html`<ul>${found.subnets.map(
    (subnet) => html`<li><a href="/subnets/${subnet.id}">${subnet.cidr}</a> (namespace ${subnet.namespace}, id ${subnet.id})</li>`,
  )}</ul>`}`;
  return page(title, content, { search: text });
}

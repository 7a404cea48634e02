import type { AuditEvent } from "../../../core/historyFilter.js";
import { summarizeAddresses } from "../../addressSummary.js";
import { html, query, type Html } from "./html.js";
import { page } from "./layout.js";

export interface HistoryView {
  readonly filter: { subnet?: string; address?: string; owner?: string; allocation?: string; since?: string; limit?: number };
  readonly events: readonly AuditEvent[];
  readonly next: string | null;
}

/** Events newest first with links to their subnet, allocation and owner; filters are a GET form. */
export function historyPage(view: HistoryView): Html {
  const f = view.filter;
  const input = (name: string, label: string, value: string | undefined, placeholder: string) =>
    html`<label>${label}<input name="${name}" value="${value ?? ""}" placeholder="${placeholder}"></label>`;
  const content = html`<form class="filters" action="/history" method="get">
${input("subnet", "subnet id", f.subnet, "12")}${input("address", "address", f.address, "10.0.0.5")}${input("owner", "owner", f.owner, "project/stack/name")}${input("allocation", "allocation id", f.allocation, "42")}${input("since", "since (ISO 8601)", f.since, "2026-12-01")}
<button type="submit">Filter</button> <a href="/history">clear</a>
</form>
${historyTable(view.events)}
${view.next === null ? "" : html`<p class="pager"><a href="/history${query({ ...f, before: view.next })}" rel="next">older events →</a></p>`}`;
  return page("History", content);
}

export function historyTable(events: readonly AuditEvent[]): Html {
  if (events.length === 0) return html`<p class="muted">no matching events</p>`;
  return html`<table class="history"><thead><tr><th class="num">Event</th><th>At</th><th>Action</th><th>Subnet</th><th>Allocation</th><th>Owner</th><th>Addresses / detail</th></tr></thead><tbody>${events.map(
    (event) => html`<tr><td class="num">${event.id}</td><td>${event.at}</td><td>${event.action}</td><td>${
      event.subnetId === null ? "-" : html`<a href="/subnets/${event.subnetId}">${event.subnetId} ${event.cidr ?? ""}</a>`
    }</td><td>${event.allocationId === null ? "-" : html`<a href="/allocations/${event.allocationId}">${event.allocationId}</a>`}</td><td>${
      event.owner === null ? "-" : html`<a href="/history?owner=${encodeURIComponent(event.owner)}">${event.owner}</a>`
    }</td><td class="mono">${event.addressCount === 0 ? detailText(event) : summarizeAddresses(event.addresses, 3, event.addressCount)}</td></tr>`,
  )}</tbody></table>`;
}

function detailText(event: AuditEvent): string {
  const entries = Object.entries(event.detail);
  return entries.length === 0 ? "-" : entries.map(([key, value]) => `${key}: ${Array.isArray(value) ? value.join(", ") : typeof value === "object" ? JSON.stringify(value) : String(value)}`).join("; ");
}

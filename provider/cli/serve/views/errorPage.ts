import { html, type Html } from "./html.js";
import { page } from "./layout.js";

/** A clear message for the reader; internals (SQL, stack traces, connection details) are never in it. */
export function errorPage(status: number, message: string, issues: readonly { field: string; reason: string }[] = []): Html {
  return page(
    `${status} ${STATUS_TEXT[status] ?? "Error"}`,
    html`<div class="error"><p>${message}</p>${issues.length === 0 ? "" : html`<ul>${issues.map((issue) => html`<li><strong>${issue.field}</strong>: ${issue.reason}</li>`)}</ul>`}</div>
<p><a href="/">back to the subnets</a></p>`,
  );
}

const STATUS_TEXT: Readonly<Record<number, string>> = { 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error", 503: "Service Unavailable" };

import { displayText } from "../../core/displayText.js";
import { paint, renderTable } from "../terminal.js";
import type { PreviewReport, ReportEntry } from "./previewPlan.js";

/**
 * The report as a terminal table or as markdown (a pull-request comment, a CI job summary). Every
 * text that came from a program or the database (resource names, owners) is escaped for where it
 * goes: displayText for the terminal, markdownText for markdown. Secrets are never here to print:
 * the preview carries "[secret]" in their place, and the report prints neither config, tags nor
 * descriptions.
 */

/** The CLI's signs for operations (pkg/display: `+` create, `~` update, `+-` replace, `-` delete). */
const SIGN: Record<string, string> = { create: "+", update: "~", replace: "+-", delete: "-", "create-replacement": "++", "delete-replaced": "--" };

/** Addresses shown per cell; the rest are counted (the JSON output lists them all). */
const SHOWN = 8;

function addressList(addresses: readonly string[], random = 0): string {
  const shown = addresses.slice(0, SHOWN).join(", ");
  const more = addresses.length > SHOWN ? ` … (+${addresses.length - SHOWN})` : "";
  const randomText = random > 0 ? `${random} random` : "";
  return [shown + more, randomText].filter((part) => part !== "").join(", ");
}

function notesOf(entry: ReportEntry): string[] {
  const notes = [...entry.notes];
  if (entry.kept.length > 0) notes.unshift(`keeps ${addressList(entry.kept)}`);
  if (entry.outsidePools.length > 0) {
    const first = entry.outsidePools.slice(0, 3).map((h) => `${h.address} (${h.owner})`);
    notes.push(`would end outside the pools: ${first.join(", ")}${entry.outsidePools.length > 3 ? ` … (+${entry.outsidePools.length - 3})` : ""}`);
  }
  if (entry.holdsDropped !== undefined) {
    const first = entry.holdsDropped.slice(0, 3);
    notes.push(`drops the hold-down of ${first.join(", ")}${entry.holdsDropped.length > 3 ? ` … (+${entry.holdsDropped.length - 3})` : ""} (no longer allocatable)`);
  }
  if (entry.failure !== undefined) notes.unshift(`FAILS: ${entry.failure.code}`);
  return notes;
}

function what(entry: ReportEntry): string {
  return entry.kind === "Subnet" ? `${entry.subnet ?? ""}${entry.cidr === undefined ? "" : `${entry.subnet === null ? "" : " → "}${entry.cidr}`}` : (entry.subnet ?? "?");
}

export function renderTerminal(report: PreviewReport): string {
  const lines: string[] = [paint("bold", "IP address changes (predicted)"), displayText(report.prediction), ""];
  if (report.entries.length === 0) lines.push("No IPAM resource changes in this preview.");
  // One line per step (a table of thousands of rows costs seconds to lay out; a list costs nothing).
  for (const e of report.entries) {
    const moves = [e.released.length > 0 ? `releases ${addressList(e.released)}` : "", e.taken.length + e.random > 0 ? `takes ${addressList(e.taken, e.random)}` : ""];
    const said = [...moves, ...notesOf(e)].filter((part) => part !== "").join("; ");
    lines.push(`  ${SIGN[e.op] ?? "~"} ${displayText(e.resource)} (${e.op} ${e.kind}) ${displayText(what(e))}${said === "" ? "" : `: ${displayText(said)}`}`);
  }
  if (report.subnets.length > 0) {
    lines.push("", paint("bold", "Utilisation (allocated / pool)"));
    lines.push(renderTable(["subnet", "before", "after"], report.subnets.map((s) => [s.cidr, `${s.before} (${s.beforePercent})`, `${s.after} (${s.afterPercent})`])));
  }
  if (report.failures.length > 0) {
    lines.push("", paint("red", `Predicted failures (${report.failures.length}): \`pulumi up\` would fail`));
    for (const f of report.failures) lines.push(`  ${displayText(f.resource)}: ${f.code}: ${displayText(f.message)}`);
  }
  return lines.join("\n");
}

/**
 * Markdown for untrusted text: controls made visible (displayText), HTML's `&`, `<`, `>` as entities
 * (GitHub renders inline HTML), and the punctuation markdown acts on backslash-escaped, so a name can
 * neither break a table (`|`), start a link, image or autolink (`[`, `(`, `:`), mention someone (`@`),
 * nor add emphasis or code.
 */
export function markdownText(text: string): string {
  return displayText(text)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/[\\`*_{}[\]()#+!|~:@]/g, "\\$&");
}

export function renderMarkdown(report: PreviewReport): string {
  const md = markdownText;
  const out: string[] = ["### IP address changes (predicted)", "", `> ${md(report.prediction)}`, ""];
  if (report.failures.length > 0) {
    out.push(`**Predicted failures (${report.failures.length}): \`pulumi up\` would fail**`, "");
    for (const f of report.failures) out.push(`- **${md(f.resource)}**: \`${f.code}\`: ${md(f.message)}`);
    out.push("");
  }
  if (report.entries.length === 0) out.push("No IPAM resource changes in this preview.", "");
  else {
    out.push("| Resource | Change | Subnet | Released | Taken (predicted) | Notes |", "| --- | --- | --- | --- | --- | --- |");
    for (const e of report.entries) {
      out.push(`| ${md(e.resource)} | ${e.op} ${e.kind} | ${md(what(e))} | ${md(addressList(e.released))} | ${md(addressList(e.taken, e.random))} | ${md(notesOf(e).join("; "))} |`);
    }
    out.push("");
  }
  if (report.subnets.length > 0) {
    out.push("| Subnet | Before | After |", "| --- | --- | --- |");
    for (const s of report.subnets) out.push(`| ${md(s.cidr)} | ${s.before} (${s.beforePercent}) | ${s.after} (${s.afterPercent}) |`);
    out.push("");
  }
  return out.join("\n");
}

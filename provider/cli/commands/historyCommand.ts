import type { Command } from "commander";
import type { AuditEvent } from "../../core/historyFilter.js";
import { summarizeAddresses } from "../addressSummary.js";
import { withIpam } from "../databaseSelection.js";
import { wholeNumber } from "../optionParsers.js";
import { subnetIdOf } from "../subnetReference.js";
import { displayText, note, paint, printJson, printLine, renderTable } from "../terminal.js";

interface HistoryOptions {
  subnet?: string;
  address?: string;
  owner?: string;
  allocation?: string;
  since?: string;
  limit?: number;
  before?: string;
  namespace?: string;
  json?: boolean;
}

/** `ipam history`: the audit table, written by the database (triggers of migration 0007) in the statement that makes each change. */
export function registerHistoryCommand(program: Command): void {
  program
    .command("history")
    .description("who allocated, resized and released what, and every subnet change, newest first")
    .option("--subnet <subnet>", "only this subnet (id or CIDR)")
    .option("--address <address>", "only events that allocated or released this address")
    .option("--owner <owner>", "only this owner")
    .option("--allocation <id>", "only this allocation")
    .option("--since <time>", "only events at or after this ISO 8601 date or timestamp")
    .option("--limit <n>", "at most this many events (default 100, at most 1000)", wholeNumber)
    .option("--before <event-id>", "page: events older than this event id (printed as `next`)")
    .option("--namespace <name>", "namespace of the --subnet CIDR when it exists in several")
    .option("--json", "print JSON")
    .action((options: HistoryOptions, command: Command) =>
      withIpam(command, "read", async (ipam) => {
        const subnetId = options.subnet === undefined ? undefined : await subnetIdOf(ipam, options.subnet, options.namespace);
        const page = await ipam.history({
          ...(subnetId !== undefined ? { subnetId } : {}),
          ...(options.address !== undefined ? { address: options.address } : {}),
          ...(options.owner !== undefined ? { owner: options.owner } : {}),
          ...(options.allocation !== undefined ? { allocationId: options.allocation } : {}),
          ...(options.since !== undefined ? { since: options.since } : {}),
          ...(options.limit !== undefined ? { limit: options.limit } : {}),
          ...(options.before !== undefined ? { before: options.before } : {}),
        });
        if (options.json) return printJson(page);
        printLine(renderHistory(page.events));
        if (page.next !== null) note(`older events: add --before ${page.next}`);
      }),
    );
}

const ACTION_STYLE: Readonly<Record<string, "green" | "red" | "cyan" | "yellow">> = {
  allocate: "green",
  grow: "green",
  "allocation.import": "green",
  release: "red",
  shrink: "red",
  "subnet.delete": "red",
  "subnet.create": "cyan",
  "subnet.import": "cyan",
  "subnet.update": "yellow",
};

function renderHistory(events: readonly AuditEvent[]): string {
  if (events.length === 0) return "no matching events";
  const rows = events.map((event) => [
    event.id,
    event.at,
    paint(ACTION_STYLE[event.action] ?? "reset", event.action),
    event.subnetId === null ? "-" : `${event.subnetId} ${event.cidr ?? ""}`.trim(),
    event.allocationId ?? "-",
    displayText(event.owner ?? "-"),
    event.addressCount === 0 ? detailText(event) : summarizeAddresses(event.addresses, 3, event.addressCount),
  ]);
  return renderTable(["EVENT", "AT", "ACTION", "SUBNET", "ALLOCATION", "OWNER", "ADDRESSES / DETAIL"], rows);
}

function detailText(event: AuditEvent): string {
  const entries = Object.entries(event.detail);
  return entries.length === 0 ? "-" : displayText(entries.map(([key, value]) => `${key}: ${Array.isArray(value) ? value.join(", ") : String(value)}`).join("; "));
}

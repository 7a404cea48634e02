import { styleText } from "node:util";
import cliProgress from "cli-progress";
import Table from "cli-table3";
import { displayJson } from "../core/displayText.js";

type Style = Parameters<typeof styleText>[0];

/**
 * Colour for a terminal only: styleText checks the stream, so output piped to a file or another
 * program, or run with NO_COLOR set, stays plain text.
 */
export function paint(style: Style, text: string, stream: NodeJS.WriteStream = process.stdout): string {
  return styleText(style, text, { stream });
}

/** The core's escaping of stored text, re-exported for the commands (one function everywhere). */
export { displayText } from "../core/displayText.js";

export function printLine(text = ""): void {
  process.stdout.write(`${text}\n`);
}

/** Notes about the run (which database, where a file went) go to stderr so stdout stays data. */
export function note(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** JSON with stored text kept off the terminal's controls (see displayJson); parses to the same values. */
export function printJson(value: unknown): void {
  process.stdout.write(`${displayJson(value, 2)}\n`);
}

/** No rule between rows: tables stay as tall as their data. */
const COMPACT = { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" } as const;

export function renderTable(head: readonly string[], rows: readonly (readonly string[])[], align: readonly ("left" | "right")[] = []): string {
  const table = new Table({
    head: head.map((title) => paint("bold", title)),
    colAligns: head.map((_, index) => align[index] ?? "left"),
    style: { head: [], border: [] },
    chars: COMPACT,
  });
  for (const row of rows) table.push([...row]);
  return table.toString();
}

/** Key/value pairs as a two-column table. */
export function renderFields(fields: readonly (readonly [string, string])[]): string {
  const table = new Table({ style: { head: [], border: [] }, chars: COMPACT });
  for (const [key, value] of fields) table.push({ [paint("bold", key)]: value });
  return table.toString();
}

export interface Progress {
  increment(by?: number): void;
  update(value: number): void;
  stop(): void;
}

/** A progress bar on stderr when it is a terminal; nothing otherwise (logs stay clean). */
export function startProgress(label: string, total: number): Progress {
  if (!process.stderr.isTTY || total === 0) return { increment: () => undefined, update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {value}/{total} {percentage}% {duration_formatted}`, hideCursor: true, stream: process.stderr },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return { increment: (by = 1) => bar.increment(by), update: (value) => bar.update(value), stop: () => bar.stop() };
}

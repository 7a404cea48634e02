import { styleText } from "node:util";
import cliProgress from "cli-progress";
import Table from "cli-table3";
import tableUtils from "cli-table3/src/utils.js";
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

export function renderTable(head: readonly string[], rows: readonly (readonly string[])[], align: readonly ("left" | "right")[] = [], colWidths?: readonly number[]): string {
  const table = new Table({
    ...(colWidths === undefined ? {} : { colWidths: [...colWidths] }),
    head: head.map((title) => paint("bold", title)),
    colAligns: head.map((_, index) => align[index] ?? "left"),
    style: { head: [], border: [] },
    chars: COMPACT,
  });
  for (const row of rows) table.push([...row]);
  return table.toString();
}

/**
 * Column widths as cli-table3 sizes them (the widest cell, ANSI codes not counted, plus one space
 * each side), gathered a row at a time: kept as numbers, not cells, so a table of 100k rows can be
 * sized in one pass and written in another (TableInParts).
 */
export class ColumnWidths {
  readonly widths: number[];

  constructor(head: readonly string[]) {
    this.widths = head.map((title) => Math.max(1, tableUtils.strlen(paint("bold", title)) + 2));
  }

  add(row: readonly string[]): void {
    row.forEach((cell, index) => {
      const width = tableUtils.strlen(cell) + 2;
      if (width > (this.widths[index] ?? 0)) this.widths[index] = width;
    });
  }
}

/**
 * renderTable written in parts (top and head, bodies of rows, bottom) with the widths of a first
 * pass: the parts joined are renderTable of all the rows at once. A cell wider than its column (the
 * data changed between the passes) widens that part rather than being cut.
 */
export class TableInParts {
  constructor(
    private readonly head: readonly string[],
    private readonly align: readonly ("left" | "right")[],
    private readonly widths: readonly number[],
  ) {}

  /** The top border and the head line. */
  top(): string {
    return this.lines([]).slice(0, 2).join("\n");
  }

  /** The rows' lines (no border above or below). */
  body(rows: readonly (readonly string[])[]): string {
    return this.lines(rows).slice(2, -1).join("\n");
  }

  bottom(): string {
    return this.lines([]).at(-1)!;
  }

  private lines(rows: readonly (readonly string[])[]): string[] {
    const widths = new ColumnWidths(this.head);
    for (const row of rows) widths.add(row);
    const colWidths = this.head.map((_, index) => Math.max(this.widths[index] ?? 0, widths.widths[index] ?? 0));
    return renderTable(this.head, rows, this.align, colWidths).split("\n");
  }
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

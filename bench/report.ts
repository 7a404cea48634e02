import { writeFile } from "node:fs/promises";
import Table from "cli-table3";
import type { Baselines } from "./baselines.js";
import type { ScenarioResult } from "./scenarioResult.js";

export interface BenchReport {
  readonly startedAt: string;
  readonly server: string;
  readonly database: "embedded" | "DATABASE_URL";
  readonly quick: boolean;
  readonly durationMs: number;
  readonly clients: number;
  readonly samples: number;
  readonly baselines: Baselines;
  readonly scenarios: readonly ScenarioResult[];
}

// No ANSI colours: the table is pasted into README and read from CI logs.
const PLAIN = { head: [], border: [] };

const number = (value: number) => (Number.isFinite(value) ? String(value) : "n/a");

/** The human table: baselines first, then one row per check, then figures and reasons. */
export function formatReport(report: BenchReport): string {
  const lines = [`Server: ${report.server}`, `Database: ${report.database}; ${report.clients} clients; ${report.durationMs} ms per throughput run; ${report.samples} latency samples${report.quick ? " (quick: numbers are a smoke test, not a measurement)" : ""}`];
  const baselines = new Table({ head: ["Baseline", "ops/s", "operations"], style: PLAIN });
  const { plainInsert1, plainInsert16, lockedInsert16, lockedInsert1 } = report.baselines;
  baselines.push(["plain insert, 1 client", number(plainInsert1.perSecond), plainInsert1.operations]);
  baselines.push([`plain insert, ${plainInsert16.clients} clients`, number(plainInsert16.perSecond), plainInsert16.operations]);
  baselines.push([`one-key locked insert (1 RT), ${lockedInsert16.clients} clients`, number(lockedInsert16.perSecond), lockedInsert16.operations]);
  baselines.push(["one-key locked insert (1 RT), 1 client", number(lockedInsert1.perSecond), lockedInsert1.operations]);
  lines.push(baselines.toString());
  const checks = new Table({ head: ["Scenario", "Check", "Value", "Target", "Met"], style: PLAIN });
  for (const scenario of report.scenarios) {
    if (scenario.notMeasured !== undefined) {
      checks.push([scenario.id, scenario.notMeasured, "-", "-", "-"]);
      continue;
    }
    for (const c of scenario.checks) checks.push([scenario.id, c.name, number(c.value), `${c.direction === "atLeast" ? "≥" : "≤"} ${c.target}`, c.met ? "yes" : "MISSED"]);
    for (const r of scenario.reported ?? []) checks.push([scenario.id, r.name, number(r.value), "none", "-"]);
  }
  lines.push(checks.toString());
  for (const scenario of report.scenarios) {
    lines.push(`${scenario.id}: ${scenario.title}`);
    const figures = Object.entries(scenario.figures).map(([name, value]) => `${name}=${number(value)}`);
    if (figures.length > 0) lines.push(`  ${figures.join("  ")}`);
    for (const c of scenario.checks) if (!c.met && c.reason !== undefined) lines.push(`  MISSED ${c.name}: ${c.reason}`);
  }
  return lines.join("\n");
}

export async function writeJson(path: string, report: BenchReport): Promise<void> {
  // NaN is not JSON: a ratio that could not be computed is written as null.
  await writeFile(path, `${JSON.stringify(report, (_, value) => (typeof value === "number" && !Number.isFinite(value) ? null : value), 2)}\n`);
}

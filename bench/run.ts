import { parseArgs } from "node:util";
import { sql } from "slonik";
import { createDatabasePool } from "../provider/store/database/databasePool.js";
import { Ipam } from "../provider/store/Ipam.js";
import { tablesFor } from "../provider/store/database/tables.js";
import { DEFAULT_SCHEMA } from "../provider/store/database/schemaName.js";
import { redact } from "../provider/store/database/databaseErrors.js";
import { measureBaselines } from "./baselines.js";
import { openBenchDatabase } from "./benchDatabase.js";
import type { BenchContext } from "./benchContext.js";
import { formatReport, writeJson, type BenchReport } from "./report.js";
import type { ScenarioResult } from "./scenarioResult.js";
import { bulkAllocation } from "./scenarios/bulkAllocation.js";
import { latencyVsFill } from "./scenarios/latencyVsFill.js";
import { neutronAblation } from "./scenarios/neutronAblation.js";
import { providerPath } from "./scenarios/providerPath.js";
import { randomAtFill } from "./scenarios/randomAtFill.js";
import { historyAtScale } from "./scenarios/historyAtScale.js";
import { randomBulkFragmentation } from "./scenarios/randomBulkFragmentation.js";
import { snapshotAtScale } from "./scenarios/snapshotAtScale.js";
import { previewReportAtScale } from "./scenarios/previewReportAtScale.js";
import { importScaling } from "./scenarios/importScaling.js";
import { wholeUp } from "./scenarios/wholeUp.js";
import { quietServer } from "./quietServer.js";
import { usageAtScale } from "./scenarios/usageAtScale.js";
import { usageTreeAtScale } from "./scenarios/usageTreeAtScale.js";
import { webViewAtScale } from "./scenarios/webViewAtScale.js";
import { holdDownAtScale } from "./scenarios/holdDownAtScale.js";
import { manySubnets, oneSubnetContended } from "./scenarios/throughputScenarios.js";

const CLIENTS = 16;

const { values } = parseArgs({
  options: {
    json: { type: "string" },
    quick: { type: "boolean", default: false },
    duration: { type: "string" },
    samples: { type: "string" },
    only: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (values.help) {
  console.log(`npm run bench -- [--quick] [--only 1,2,…] [--duration MS] [--samples N] [--json FILE]
  --quick      small sizes (a smoke run; its figures are not a run of record)
  --only       the scenarios to run, from ${"1–17"} (docs/benchmark.md lists them); default all
  --duration   milliseconds per throughput run (default 5000); --samples: latency samples per point (200)
  --json       also write every figure to FILE
The server: DATABASE_URL when set, otherwise the embedded PostgreSQL.`);
  process.exit(0);
}

const SCENARIOS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17];

/** `--only 1,2`: the scenarios to run (all when absent); a scenario another one needs figures from runs too, unreported. */
function selection(text: string | undefined): ReadonlySet<number> | null {
  if (text === undefined) return null;
  const picked = text.split(",").map((part) => Number(part.trim()));
  const bad = picked.filter((n) => !SCENARIOS.includes(n));
  if (bad.length > 0 || picked.length === 0) throw new Error(`--only takes scenario numbers from ${SCENARIOS.join(",")}, e.g. --only 1,2; got ${JSON.stringify(text)}`);
  return new Set(picked);
}

function positiveInteger(text: string | undefined, fallback: number, name: string): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(text)}`);
  return value;
}

async function main(): Promise<void> {
  const quick = values.quick;
  const durationMs = positiveInteger(values.duration, quick ? 300 : 5_000, "duration");
  const samples = positiveInteger(values.samples, quick ? 10 : 200, "samples");
  const only = selection(values.only);
  const want = (n: number) => only === null || only.has(n);
  const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
  const database = await openBenchDatabase(process.env.DATABASE_URL);
  log(`server: ${database.serverVersion} (${database.source})`);
  try {
    const ipam = await Ipam.open({ databaseUrl: database.url, maxConnections: CLIENTS });
    const pool = await createDatabasePool(database.url, { maxConnections: CLIENTS });
    try {
      const context: BenchContext = { url: database.url, pool, ipam, t: tablesFor(DEFAULT_SCHEMA), clients: CLIENTS, durationMs, quick, samples, log };
      const startedAt = new Date().toISOString();
      // Warm both pools so connection setup is not timed.
      await Promise.all(Array.from({ length: CLIENTS }, () => pool.query(sql.unsafe`SELECT 1`)));
      const baselines = await measureBaselines(context);
      const scenarios: ScenarioResult[] = [];
      const one = want(1) || want(2) || want(6) ? await oneSubnetContended(context) : undefined;
      if (one !== undefined && want(1)) scenarios.push(one.result);
      if (want(2)) scenarios.push(await manySubnets(context, baselines, one!.single));
      const fill = want(3) || want(4) ? await latencyVsFill(context) : undefined;
      if (fill !== undefined && want(3)) scenarios.push(fill.result);
      if (want(4)) scenarios.push(await bulkAllocation(context, fill!.emptyV4));
      if (want(5)) scenarios.push(await randomAtFill(context));
      if (want(6)) scenarios.push(await neutronAblation(context, one!.rate));
      if (want(7)) scenarios.push(await providerPath(context));
      if (want(8)) scenarios.push(await historyAtScale(context));
      if (want(9)) scenarios.push(await randomBulkFragmentation(context));
      if (want(10)) scenarios.push(await usageAtScale(context));
      if (want(11)) scenarios.push(await snapshotAtScale(context));
      if (want(12)) scenarios.push(await usageTreeAtScale(context));
      if (want(13)) {
        await quietServer(context, "scenario 13");
        scenarios.push(await wholeUp(context));
      }
      if (want(14)) scenarios.push(await webViewAtScale(context));
      if (want(15)) scenarios.push(await previewReportAtScale(context));
      if (want(16)) scenarios.push(await holdDownAtScale(context));
      if (want(17)) scenarios.push(await importScaling(context));
      const report: BenchReport = {
        startedAt,
        server: database.serverVersion,
        database: database.source,
        quick,
        durationMs,
        clients: CLIENTS,
        samples,
        baselines,
        scenarios,
      };
      process.stdout.write(`${formatReport(report)}\n`);
      if (values.json !== undefined) await writeJson(values.json, report);
    } finally {
      await pool.end();
      await ipam.close();
    }
  } finally {
    await database.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${redact(error instanceof Error ? (error.stack ?? error.message) : String(error))}\n`);
  process.exitCode = 1;
});

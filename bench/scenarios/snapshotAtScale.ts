import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql, type DatabasePool } from "slonik";
import { Ipam } from "../../provider/store/Ipam.js";
import { tablesFor, type Tables } from "../../provider/store/database/tables.js";
import type { BenchContext } from "../benchContext.js";
import { runCli } from "../cliProcess.js";
import { ratio, round, timed } from "../measure.js";
import { check, type ScenarioResult } from "../scenarioResult.js";

/** Schemas of their own: the export holds exactly the allocations counted, the import lands in an empty one. */
const SCHEMA = "ipam_bench_export";
const IMPORT_SCHEMA = "ipam_bench_import";
/** Allocations are spread round-robin over this many /15 subnets (131,072 addresses each: room for 1M / 32). */
const SUBNETS = 32;
const SUBNET_SIZE = 131_072;
const OWNERS = 50;
/** Issue 25's target for `ipam import` of 1M allocations. */
const IMPORT_PEAK_RSS_MIB = 400;

/**
 * Append synthetic allocations up to `total` in one statement: allocation g holds one address of
 * subnet g % SUBNETS (its key is "k<g>", which is how the address row finds it). The audit
 * triggers run as for any insert; the free-range index is left as it was, which export never reads.
 */
async function growAllocations(pool: DatabasePool, t: Tables, subnetIds: readonly number[], from: number, total: number): Promise<void> {
  await pool.query(sql.unsafe`
    WITH added AS (
      INSERT INTO ${t.allocation} (subnet_id, owner, idempotency_key, strategy, tags)
      SELECT (${sql.array([...subnetIds], "int4")})[g % ${SUBNETS} + 1], 'export-owner-' || (g % ${OWNERS}), 'k' || g, 'sequential',
             jsonb_build_object('stack', 'bench')
      FROM generate_series(${from}::bigint, ${total - 1}::bigint) AS g ORDER BY g
      RETURNING id, subnet_id, substr(idempotency_key, 2)::bigint AS g
    ), placed AS (
      SELECT id, subnet_id, '10.0.0.0'::inet + ((g % ${SUBNETS}) * ${SUBNET_SIZE} + 16 + g / ${SUBNETS}) AS address FROM added
    )
    INSERT INTO ${t.allocatedAddress} (subnet_id, address, ordinal, allocation_id)
    SELECT subnet_id, address, address - '0.0.0.0'::inet, id FROM placed
  `);
  await pool.query(sql.unsafe`VACUUM (ANALYZE) ${t.allocation}, ${t.allocatedAddress}, ${t.auditEvent}`);
}

/**
 * 11. `ipam export --out` of 10k, 100k and 1M allocations (1k, 5k, 10k with --quick) by the real
 * CLI in a child process: its peak RSS (VmHWM) must not grow with the allocation count (the export
 * is streamed a page at a time), checked 1M vs 10k (the sizes) and 1M vs 100k (once the
 * runtime's heap has reached its working size), with its time per allocation; then `ipam import` of the large file
 * into an empty schema, its time and peak RSS: the import reads the file as a stream, twice (check,
 * then write a window at a time), so its memory must not grow with the file either (issue 25:
 * ≤ 400 MiB at 1M allocations; the whole-file import peaked at 1.7 GiB).
 */
export async function snapshotAtScale(context: BenchContext): Promise<ScenarioResult> {
  const small = context.quick ? 1_000 : 10_000;
  const middle = context.quick ? 5_000 : 100_000;
  const large = context.quick ? 10_000 : 1_000_000;
  const ipam = await Ipam.open({ databaseUrl: context.url, schema: SCHEMA, maxConnections: 2 });
  const t = tablesFor(SCHEMA);
  const dir = await mkdtemp(join(tmpdir(), "ipam-bench-export-"));
  try {
    const subnetIds: number[] = [];
    for (let i = 0; i < SUBNETS; i += 1) subnetIds.push(Number((await ipam.createSubnet({ cidr: `10.${2 * i}.0.0/15`, description: "bench: export" })).id));
    const exportOf = async (size: number) => {
      const file = join(dir, `export-${size}.json`);
      const run = await runCli(context.url, ["--schema", SCHEMA, "export", "--out", file]);
      return { ...run, file, bytes: (await stat(file)).size };
    };
    context.log(`scenario 11: export of ${small.toLocaleString("en-US")} allocations`);
    await growAllocations(context.pool, t, subnetIds, 0, small);
    const exportSmall = await exportOf(small);
    context.log(`scenario 11: export of ${middle.toLocaleString("en-US")} allocations`);
    await growAllocations(context.pool, t, subnetIds, small, middle);
    const exportMiddle = await exportOf(middle);
    context.log(`scenario 11: growing to ${large.toLocaleString("en-US")} allocations`);
    const grown = await timed(() => growAllocations(context.pool, t, subnetIds, middle, large));
    context.log(`scenario 11: export of ${large.toLocaleString("en-US")} allocations`);
    const exportLarge = await exportOf(large);
    context.log(`scenario 11: import of ${large.toLocaleString("en-US")} allocations`);
    const importLarge = await runCli(context.url, ["--schema", IMPORT_SCHEMA, "import", exportLarge.file, "--json"]);
    const imported = JSON.parse(importLarge.stdout) as { allocations: number };
    if (imported.allocations !== large) throw new Error(`scenario 11: the import reported ${imported.allocations} allocations, not ${large}`);
    const rssRatio = ratio(exportLarge.peakRssMiB, exportSmall.peakRssMiB);
    const rssRatioMiddle = ratio(exportLarge.peakRssMiB, exportMiddle.peakRssMiB);
    const mib = (run: { peakRssMiB: number }) => `${round(run.peakRssMiB, 1)} MiB`;
    const perAllocation = (run: { ms: number }, size: number) => round((run.ms * 1000) / size, 2);
    const sizes = `${small.toLocaleString("en-US")} vs ${large.toLocaleString("en-US")} allocations`;
    return {
      id: "11-export-import-at-scale",
      title: `ipam export (child process) of ${sizes}: peak RSS and time; ipam import of the large file`,
      figures: {
        smallAllocations: small,
        largeAllocations: large,
        secondsToGrow: round(grown.ms / 1000, 1),
        exportSmallSeconds: round(exportSmall.ms / 1000, 2),
        exportLargeSeconds: round(exportLarge.ms / 1000, 2),
        middleAllocations: middle,
        exportMiddleSeconds: round(exportMiddle.ms / 1000, 2),
        exportSmallPeakRssMiB: round(exportSmall.peakRssMiB, 1),
        exportMiddlePeakRssMiB: round(exportMiddle.peakRssMiB, 1),
        exportLargePeakRssMiB: round(exportLarge.peakRssMiB, 1),
        exportSmallUsPerAllocation: perAllocation(exportSmall, small),
        exportLargeUsPerAllocation: perAllocation(exportLarge, large),
        largeFileMiB: round(exportLarge.bytes / 2 ** 20, 1),
        importLargeSeconds: round(importLarge.ms / 1000, 2),
        importLargePeakRssMiB: round(importLarge.peakRssMiB, 1),
        importLargeUsPerAllocation: perAllocation(importLarge, large),
      },
      checks: [
        check(`export peak RSS, ${sizes} (ratio)`, rssRatio, "atMost", 2, () =>
          `${mib(exportLarge)} vs ${mib(exportSmall)}; ${mib(exportMiddle)} at ${middle.toLocaleString("en-US")}: the process grows to its working size (Node's young generation, sized to the allocation rate) within the first ~100k allocations and stays there; a ${small.toLocaleString("en-US")} export ends before that`),
        check(`export peak RSS, ${middle.toLocaleString("en-US")} vs ${large.toLocaleString("en-US")} allocations (ratio)`, rssRatioMiddle, "atMost", 2, () => `${mib(exportLarge)} vs ${mib(exportMiddle)}`),
        check(`import peak RSS at ${large.toLocaleString("en-US")} allocations (MiB)`, round(importLarge.peakRssMiB, 1), "atMost", IMPORT_PEAK_RSS_MIB, () =>
          `${mib(importLarge)} for a ${round(exportLarge.bytes / 2 ** 20, 0)} MiB file: the streamed import holds the subnets, per-subnet address maps (IPv4 by value, IPv6 by text), the allocation ids (8 bytes each, plus a set) and each subnet's idempotency keys as text, which grow with the allocations; and one window of 2,000`),
      ],
      reported: [
        { name: `export µs per allocation at ${large.toLocaleString("en-US")}`, value: perAllocation(exportLarge, large) },
        { name: `import of ${large.toLocaleString("en-US")} allocations: seconds`, value: round(importLarge.ms / 1000, 1) },
        { name: `import of ${large.toLocaleString("en-US")} allocations: peak RSS MiB`, value: round(importLarge.peakRssMiB, 1) },
      ],
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
    await ipam.close();
  }
}

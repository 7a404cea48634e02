import { randomInt } from "node:crypto";
import { sql, type DatabasePool } from "slonik";
import { z } from "zod";
import { Ipam } from "../../provider/store/Ipam.js";
import { tablesFor, type Tables } from "../../provider/store/database/tables.js";
import { OWNER, type BenchContext } from "../benchContext.js";
import { combined, interleavedLatency, ratio, round, throughput, timed, type Latency } from "../measure.js";
import { check, type ScenarioResult } from "../scenarioResult.js";

/** A schema of its own, so the audit table holds exactly the events this scenario counts. */
const SCHEMA = "ipam_bench_history";
const SMALL = 10_000;
/** Distinct owners in the synthetic history: each owns SIZE / OWNERS events, at least a page (100) at 10k. */
const OWNERS = 50;
const INDEX = "audit_event_addresses";

/**
 * Append synthetic audit events up to `total`: event g is an allocation of 10.0.0.0 + g (so
 * every address has one event) by owner g % OWNERS, in one INSERT ... SELECT.
 */
async function growHistory(pool: DatabasePool, t: Tables, from: number, total: number): Promise<void> {
  await pool.query(sql.unsafe`
    INSERT INTO ${t.auditEvent} (action, subnet_id, cidr, allocation_id, owner, addresses)
    SELECT 'allocate', 1, '10.0.0.0/8'::cidr, g, 'history-owner-' || (g % ${OWNERS}), ARRAY['10.0.0.0'::inet + g]
    FROM generate_series(${from}::bigint, ${total - 1}::bigint) AS g
  `);
  await pool.query(sql.unsafe`VACUUM (ANALYZE) ${t.auditEvent}`);
}

async function historyLatencies(ipam: Ipam, size: number, samples: number): Promise<Latency[]> {
  const address = () => intToAddress(randomInt(size));
  return interleavedLatency(samples, [
    () => ipam.history({ address: address(), limit: 100 }),
    () => ipam.history({ owner: `history-owner-${randomInt(OWNERS)}`, limit: 100 }),
  ]);
}

function intToAddress(n: number): string {
  return [10, (n >> 16) & 255, (n >> 8) & 255, n & 255].join(".");
}

/** p50 of the pre-0008 filter (`= ANY`, which no index serves) over the same events, a few samples. */
async function sequentialFormP50(pool: DatabasePool, t: Tables, size: number, samples: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < samples; i += 1) {
    const { ms } = await timed(() =>
      pool.any(sql.type(z.object({ id: z.string() }))`
        SELECT e.id::text AS id FROM ${t.auditEvent} e WHERE ${intToAddress(randomInt(size))}::inet = ANY(e.addresses) ORDER BY e.id DESC LIMIT 100
      `),
    );
    times.push(ms);
  }
  return round(times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!, 3);
}

/**
 * 8. `history --address` and `--owner` p50 at 10k audit events and at a large count, in one run
 * (the large count is what this machine builds in about a minute: 2M, 100k with --quick), plus what
 * the address index costs an allocation: 16 clients on 16 subnets with the index and without it
 * (dropped and rebuilt between windows, at 10k events), alternated with, without, without, with.
 */
export async function historyAtScale(context: BenchContext): Promise<ScenarioResult> {
  const large = context.quick ? 100_000 : 2_000_000;
  const samples = context.quick ? 20 : context.samples;
  const ipam = await Ipam.open({ databaseUrl: context.url, schema: SCHEMA, maxConnections: context.clients });
  const t = tablesFor(SCHEMA);
  const { pool } = context;
  try {
    context.log(`scenario 8: history at ${SMALL.toLocaleString("en-US")} events`);
    await growHistory(pool, t, 0, SMALL);
    const [addressSmall, ownerSmall] = await historyLatencies(ipam, SMALL, samples);

    context.log(`scenario 8: what the address index costs an allocation (${context.clients} clients, ${context.clients} subnets)`);
    const subnets: { id: string }[] = [];
    for (let i = 0; i < context.clients; i += 1) subnets.push(await ipam.createSubnet({ cidr: `10.${160 + i}.0.0/16`, description: "bench: history index cost" }));
    const allocate = (client: number) => ipam.allocate({ subnetId: subnets[client]!.id, owner: OWNER });
    const dropIndex = () => pool.query(sql.unsafe`DROP INDEX ${sql.identifier([SCHEMA, INDEX])}`);
    const createIndex = () => pool.query(sql.unsafe`CREATE INDEX ${sql.identifier([INDEX])} ON ${t.auditEvent} USING gin (addresses)`);
    // With, without, without, with (half the duration each), the index dropped and rebuilt between
    // windows, so a drift in the machine's load hits both alike.
    const half = Math.max(1, Math.round(context.durationMs / 2));
    const with1 = await throughput(context.clients, half, allocate);
    await dropIndex();
    const without1 = await throughput(context.clients, half, allocate);
    const without2 = await throughput(context.clients, half, allocate);
    await createIndex();
    const with2 = await throughput(context.clients, half, allocate);
    const paired = { a: combined(with1, with2), b: combined(without1, without2) };

    context.log(`scenario 8: growing history to ${large.toLocaleString("en-US")} events`);
    const grown = await timed(() => growHistory(pool, t, SMALL, large));
    const [addressLarge, ownerLarge] = await historyLatencies(ipam, large, samples);
    const oldFormLarge = await sequentialFormP50(pool, t, large, context.quick ? 3 : 7);
    const addressRatio = ratio(addressLarge!.p50Ms, addressSmall!.p50Ms);
    const ownerRatio = ratio(ownerLarge!.p50Ms, ownerSmall!.p50Ms);
    const cost = ratio(paired.b.perSecond - paired.a.perSecond, paired.b.perSecond);
    const sizes = `${SMALL.toLocaleString("en-US")} vs ${large.toLocaleString("en-US")} events`;
    return {
      id: "8-history-at-scale",
      title: `history --address / --owner p50 at ${sizes}; allocations/s with and without the address index`,
      figures: {
        smallEvents: SMALL,
        largeEvents: large,
        secondsToGrow: round(grown.ms / 1000, 1),
        addressP50SmallMs: addressSmall!.p50Ms,
        addressP50LargeMs: addressLarge!.p50Ms,
        ownerP50SmallMs: ownerSmall!.p50Ms,
        ownerP50LargeMs: ownerLarge!.p50Ms,
        unindexedAddressP50LargeMs: oldFormLarge,
        allocationsPerSecondWithIndex: paired.a.perSecond,
        allocationsPerSecondWithoutIndex: paired.b.perSecond,
      },
      checks: [
        check(`history --address p50, ${sizes} (ratio)`, addressRatio, "atMost", 2, () => `${addressLarge!.p50Ms} ms vs ${addressSmall!.p50Ms} ms`),
        check(`history --owner p50, ${sizes} (ratio)`, ownerRatio, "atMost", 2, () => `${ownerLarge!.p50Ms} ms vs ${ownerSmall!.p50Ms} ms`),
      ],
      reported: [{ name: "address index: share of allocations/s it costs (16 clients, 16 subnets)", value: cost }],
    };
  } finally {
    await ipam.close();
  }
}

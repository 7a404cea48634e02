import { sql } from "slonik";
import { OWNER, type BenchContext } from "../benchContext.js";
import { withLockHoldWatch } from "../lockHold.js";
import { BULK_CHUNK } from "../../provider/store/allocations/bulkInChunks.js";
import { percentile, ratio, round, timed } from "../measure.js";
import { check, type ScenarioResult } from "../scenarioResult.js";

/**
 * Split an empty IPv6 /64 into `ranges` free ranges by allocating one address every 2^64 / ranges
 * (one filler allocation, written in two set-based statements).
 */
async function fragment(context: BenchContext, subnetId: number, ranges: number): Promise<void> {
  const t = context.t;
  const stride = (2n ** 64n / BigInt(ranges)).toString();
  await context.pool.transaction(async (tx) => {
    await tx.query(sql.unsafe`
      WITH filler AS (INSERT INTO ${t.allocation} (subnet_id, owner, strategy) VALUES (${subnetId}, ${`${OWNER}/filler`}, 'random') RETURNING id),
           base AS (SELECT ${t.inetToOrdinal}(network(cidr)) AS b FROM ${t.subnet} WHERE id = ${subnetId})
      INSERT INTO ${t.allocatedAddress} (subnet_id, address, ordinal, allocation_id)
      SELECT ${subnetId}, ${t.ordinalToInet}(b + k * ${stride}::numeric, 6), b + k * ${stride}::numeric, filler.id
      FROM filler, base, generate_series(1, ${ranges - 1}) AS k
    `);
    await tx.query(sql.unsafe`
      WITH span AS (DELETE FROM ${t.freeRange} WHERE subnet_id = ${subnetId} RETURNING first_ordinal AS lo, last_ordinal AS hi),
           edge AS (SELECT lo - 1 AS o FROM span UNION ALL SELECT ordinal FROM ${t.allocatedAddress} WHERE subnet_id = ${subnetId} UNION ALL SELECT hi + 1 FROM span)
      INSERT INTO ${t.freeRange} (subnet_id, first_ordinal, last_ordinal)
      SELECT ${subnetId}, o + 1, next - 1 FROM (SELECT o, lead(o) OVER (ORDER BY o) AS next FROM edge) e WHERE next IS NOT NULL AND next > o + 1
    `);
  });
  await context.pool.query(sql.unsafe`ANALYZE ${t.freeRange}`);
}

/**
 * 8. Random bulk allocation against fragmentation (issue 13 item 3): `count` random addresses in a
 * /64 whose free space is 10k, 100k and 1M ranges. Its cost must not grow with the number of ranges
 * (it was count × ranges: minutes of Node CPU inside the subnet's lock).
 */
export async function randomBulkFragmentation(context: BenchContext): Promise<ScenarioResult> {
  const levels = context.quick ? [1_000, 10_000, 100_000] : [10_000, 100_000, 1_000_000];
  const count = context.quick ? 4_096 : 65_536;
  const runs = 3;
  const figures: Record<string, number> = { count };
  const medians: number[] = [];
  let longestHoldMs = 0;
  for (const [index, ranges] of levels.entries()) {
    const subnet = await context.ipam.createSubnet({ cidr: `2001:db8:fa${index}::/64`, description: "bench: random bulk vs fragmentation" });
    context.log(`scenario 9: splitting a /64 into ${ranges.toLocaleString("en-US")} free ranges`);
    await fragment(context, Number(subnet.id), ranges);
    const times: number[] = [];
    for (let run = 0; run < runs; run += 1) {
      context.log(`scenario 9: ${ranges.toLocaleString("en-US")} ranges, random count ${count}, run ${run + 1}/${runs}`);
      const watched = await withLockHoldWatch(context.pool, Number(subnet.id), () => timed(() => context.ipam.allocate({ subnetId: subnet.id, owner: OWNER, strategy: "random", count })));
      const { result, ms } = watched.result;
      longestHoldMs = Math.max(longestHoldMs, watched.longestHoldMs);
      figures[`longestLockHoldMs/${ranges}`] = Math.max(figures[`longestLockHoldMs/${ranges}`] ?? 0, round(watched.longestHoldMs, 0));
      if (result.allocation.addresses.length !== count) throw new Error(`random bulk: got ${result.allocation.addresses.length} addresses for count ${count}`);
      times.push(ms);
    }
    const median = percentile(times, 0.5);
    medians.push(median);
    figures[`medianMs/${ranges}`] = round(median, 1);
  }
  const slowest = Math.max(...medians);
  const fastest = Math.min(...medians);
  figures.longestLockHoldMs = round(longestHoldMs, 0);
  return {
    id: "9-random-bulk-fragmented",
    title: `Random bulk: count ${count.toLocaleString("en-US")} in a /64 of ${levels.map((n) => n.toLocaleString("en-US")).join(", ")} free ranges (median of ${runs})`,
    figures,
    checks: [
      check(`slowest ÷ fastest median (${levels.length} fragmentation levels, ${levels.at(-1)! / levels[0]!}× apart)`, ratio(slowest, fastest), "atMost", 2, () =>
        `medians ${medians.map((ms) => `${round(ms, 0)} ms`).join(", ")} for ${levels.join(", ")} free ranges`),
      // Issue 25: what every other allocation in the subnet waits behind, read from pg_locks.
      check(`longest subnet lock hold, seconds (pg_locks + the holder's xact_start, sampled every 20 ms)`, round(longestHoldMs / 1000, 2), "atMost", 2, () =>
        `one random bulk of ${count} is written ${BULK_CHUNK} addresses per transaction under the lock (${Math.ceil(count / BULK_CHUNK)} transactions); the longest held it ${round(longestHoldMs, 0)} ms`),
    ],
  };
}

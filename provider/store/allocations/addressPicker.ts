import { sql } from "slonik";
import { SubnetExhaustedError } from "../../core/errors.js";
import { RangeSampler } from "../../core/rangeSampler.js";
import { rangeSize, runsOf, type ValueRange } from "../../core/range.js";
import { freeRangeRow } from "../rows/rowShapes.js";
import { rangesFromRows } from "../space/freeSpace.js";
import { z } from "zod";
import { type BoundConnection } from "../database/storeDatabase.js";

/** Which free ranges a pick reads and which ordinals it takes from them. */
export interface Pick {
  readonly touched: readonly ValueRange[];
  readonly taken: readonly ValueRange[];
}

const PAGE = 512;
/** Low-yield rejection-sampling rounds (fewer than 1 in LOW_YIELD candidates free) before the exact draw. */
export const RANDOM_ROUNDS = 4;
export const RANDOM_CANDIDATES = 32;
/** Candidates probed per statement; a bulk pick takes as many rounds as it needs while they pay. */
const ROUND_LIMIT = 8192;
const LOW_YIELD = 16;

/**
 * Uniform random ordinals from `available` (pool minus reserved). A candidate that turns out to be
 * allocated is rejected by the caller, so the accepted ones are uniform over the free addresses.
 */
export function randomCandidates(available: readonly ValueRange[] | RangeSampler, count: number): string[] {
  const sampler = available instanceof RangeSampler ? available : new RangeSampler(available);
  return Array.from({ length: count }, () => sampler.draw().value.toString());
}

/** Lowest `count` free ordinals, paging through the free-range index. */
export async function pickSequential(db: BoundConnection, subnetId: number, count: number): Promise<Pick> {
  const touched: ValueRange[] = [];
  const taken: ValueRange[] = [];
  let need = BigInt(count);
  let after = -1n;
  while (need > 0n) {
    const page = rangesFromRows(
      await db.any(sql.type(freeRangeRow)`
        SELECT first_ordinal, last_ordinal FROM ${db.t.freeRange}
        WHERE subnet_id = ${subnetId} AND first_ordinal > ${after.toString()}::numeric
        ORDER BY first_ordinal LIMIT ${PAGE}
      `),
    );
    if (page.length === 0) throw new SubnetExhaustedError(String(subnetId), count);
    for (const range of page) {
      const take = need < rangeSize(range) ? need : rangeSize(range);
      touched.push(range);
      taken.push({ first: range.first, last: range.first + take - 1n });
      need -= take;
      if (need === 0n) break;
    }
    after = page.at(-1)!.first;
  }
  return { touched, taken };
}

const hitRow = z.object({ pick: z.string(), first_ordinal: z.string(), last_ordinal: z.string() });

/**
 * `count` distinct free ordinals chosen uniformly at random: batches of CSPRNG candidates are
 * probed against the free-range index (O(log n) each), round after round while at least one in
 * LOW_YIELD is free; a subnet so full that they stop paying falls back to one exact draw over the
 * remaining free ranges. Either way the cost grows with `count` and only logarithmically with how
 * fragmented the free space is (issue 13 item 3: it was count × free ranges, minutes of CPU).
 */
export async function pickRandom(
  db: BoundConnection,
  subnetId: number,
  available: readonly ValueRange[],
  count: number,
): Promise<Pick> {
  const picked = new Map<bigint, ValueRange>();
  const sampler = new RangeSampler(available);
  let lowYield = 0;
  while (picked.size < count && lowYield < RANDOM_ROUNDS) {
    const need = count - picked.size;
    const candidates = randomCandidates(sampler, Math.min(Math.max(need * 2, RANDOM_CANDIDATES), ROUND_LIMIT));
    const hits = await db.any(sql.type(hitRow)`
      SELECT c.pick::text AS pick, f.first_ordinal, f.last_ordinal
      FROM unnest(${sql.array(candidates, "numeric")}) WITH ORDINALITY AS c(pick, n)
      CROSS JOIN LATERAL (
        SELECT first_ordinal, last_ordinal FROM ${db.t.freeRange}
        WHERE subnet_id = ${subnetId} AND first_ordinal <= c.pick ORDER BY first_ordinal DESC LIMIT 1
      ) f
      WHERE f.last_ordinal >= c.pick
      ORDER BY c.n
    `);
    const before = picked.size;
    for (const hit of hits) {
      if (picked.size >= count) break;
      picked.set(BigInt(hit.pick), { first: BigInt(hit.first_ordinal), last: BigInt(hit.last_ordinal) });
    }
    if ((picked.size - before) * LOW_YIELD < candidates.length && picked.size < count) lowYield += 1;
  }
  if (picked.size < count) await exactRandomFill(db, subnetId, count, picked);
  return { touched: [...new Map([...picked.values()].map((range) => [range.first, range])).values()], taken: runsOf([...picked.keys()]) };
}

async function exactRandomFill(db: BoundConnection, subnetId: number, count: number, picked: Map<bigint, ValueRange>): Promise<void> {
  const free = new RangeSampler(
    rangesFromRows(
      await db.any(sql.type(freeRangeRow)`
        SELECT first_ordinal, last_ordinal FROM ${db.t.freeRange} WHERE subnet_id = ${subnetId} ORDER BY first_ordinal
      `),
    ),
  );
  if (free.size - BigInt(picked.size) < BigInt(count - picked.size)) {
    throw new SubnetExhaustedError(String(subnetId), count, free.size.toString());
  }
  while (picked.size < count) {
    const { value, range } = free.draw();
    if (!picked.has(value)) picked.set(value, range);
  }
}

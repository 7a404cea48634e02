import { sql } from "slonik";
import { isAllocatable, type SubnetLayout } from "../../core/subnetLayout.js";
import { normalizeRanges, runsOf, subtractRanges, type ValueRange } from "../../core/range.js";
import { freeRangeRow } from "../rows/rowShapes.js";
import { type BoundConnection } from "../database/storeDatabase.js";

const text = (value: bigint) => value.toString();

export function rangesFromRows(rows: readonly { first_ordinal: string; last_ordinal: string }[]): ValueRange[] {
  return rows.map((row) => ({ first: BigInt(row.first_ordinal), last: BigInt(row.last_ordinal) }));
}

/**
 * Recompute a subnet's free ranges from scratch: the available segments minus every allocated
 * address, every held one (hold-down, migration 0011), every child block and every held child block
 * (migration 0013) (nothing at all for a children-only subnet). Used when a subnet is
 * created or imported and when its pools, gateway, reserved ranges or childrenOnly change.
 * The gaps are found in one set-based statement (running max over the holes of each segment).
 */
export async function rebuildFreeRanges(db: BoundConnection, subnetId: number, available: readonly ValueRange[]): Promise<void> {
  await db.query(sql.unsafe`DELETE FROM ${db.t.freeRange} WHERE subnet_id = ${subnetId}`);
  if (available.length === 0) return;
  await db.query(sql.unsafe`
    WITH segment AS (
      SELECT lo, hi FROM unnest(${sql.array(available.map((r) => text(r.first)), "numeric")},
                                ${sql.array(available.map((r) => text(r.last)), "numeric")}) AS s(lo, hi)
      WHERE NOT (SELECT children_only FROM ${db.t.subnet} WHERE id = ${subnetId})
    ),
    child AS (
      SELECT ${db.t.inetToOrdinal}(network(cidr)) AS lo, ${db.t.inetToOrdinal}(broadcast(cidr)) AS hi FROM ${db.t.subnet} WHERE parent_id = ${subnetId}
    ),
    hole AS (
      SELECT s.lo AS seg_lo, s.hi AS seg_hi, a.ordinal AS lo, a.ordinal AS hi
      FROM segment s JOIN ${db.t.allocatedAddress} a ON a.subnet_id = ${subnetId} AND a.ordinal BETWEEN s.lo AND s.hi
      UNION ALL
      SELECT s.lo, s.hi, h.ordinal, h.ordinal
      FROM segment s JOIN ${db.t.heldAddress} h ON h.subnet_id = ${subnetId} AND h.ordinal BETWEEN s.lo AND s.hi
      UNION ALL
      SELECT s.lo, s.hi, greatest(c.lo, s.lo), least(c.hi, s.hi) FROM segment s JOIN child c ON c.lo <= s.hi AND c.hi >= s.lo
      UNION ALL
      SELECT s.lo, s.hi, greatest(b.first_ordinal, s.lo), least(b.last_ordinal, s.hi)
      FROM segment s JOIN ${db.t.heldBlock} b ON b.parent_id = ${subnetId} AND b.first_ordinal <= s.hi AND b.last_ordinal >= s.lo
    ),
    gap AS (
      SELECT coalesce(max(hi) OVER (PARTITION BY seg_lo ORDER BY lo, hi ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) + 1, seg_lo) AS lo,
             lo - 1 AS hi
      FROM hole
      UNION ALL
      SELECT max(hi) + 1, seg_hi FROM hole GROUP BY seg_lo, seg_hi
      UNION ALL
      SELECT lo, hi FROM segment s WHERE NOT EXISTS (SELECT 1 FROM hole WHERE hole.seg_lo = s.lo)
    )
    INSERT INTO ${db.t.freeRange} (subnet_id, first_ordinal, last_ordinal)
    SELECT ${subnetId}, lo, hi FROM gap WHERE lo <= hi
  `);
}

/** Replace `touched` free ranges with what is left of them once `taken` ordinals are removed. */
export async function carveFreeRanges(
  db: BoundConnection,
  subnetId: number,
  touched: readonly ValueRange[],
  taken: readonly ValueRange[],
): Promise<void> {
  if (touched.length === 0) return;
  const residual = subtractRanges(touched, taken);
  // One index probe per touched range (LIMIT 1 keeps each probe a probe), then a TID scan: with
  // thousands of keys the planner would otherwise read every free range of the subnet, a cost that
  // grows with fragmentation inside the lock (issue 13 item 3).
  await db.query(sql.unsafe`
    DELETE FROM ${db.t.freeRange} WHERE ctid = ANY(ARRAY(
      SELECT f.ctid FROM unnest(${sql.array(touched.map((r) => text(r.first)), "numeric")}) AS d(first)
      CROSS JOIN LATERAL (SELECT ctid FROM ${db.t.freeRange} WHERE subnet_id = ${subnetId} AND first_ordinal = d.first LIMIT 1) f
    ))
  `);
  await insertRanges(db, subnetId, residual);
}

/** The free ranges of a subnet that has none yet (a new child: nothing allocated, no children). */
export async function initialFreeRanges(db: BoundConnection, subnetId: number, available: readonly ValueRange[]): Promise<void> {
  await insertRanges(db, subnetId, available);
}

async function insertRanges(db: BoundConnection, subnetId: number, ranges: readonly ValueRange[]): Promise<void> {
  if (ranges.length === 0) return;
  await db.query(sql.unsafe`
    INSERT INTO ${db.t.freeRange} (subnet_id, first_ordinal, last_ordinal)
    SELECT ${subnetId}, lo, hi FROM unnest(${sql.array(ranges.map((r) => text(r.first)), "numeric")},
                                           ${sql.array(ranges.map((r) => text(r.last)), "numeric")}) AS r(lo, hi)
  `);
}

/**
 * Give released addresses back to the free space, merged with their neighbours so ranges stay
 * maximal. Addresses no longer allocatable (outside the current pools, now reserved) are dropped.
 */
export async function returnToFreeSpace(
  db: BoundConnection,
  subnetId: number,
  layout: SubnetLayout,
  ordinals: readonly bigint[],
): Promise<void> {
  await returnRangesToFreeSpace(db, subnetId, runsOf(ordinals.filter((ordinal) => isAllocatable(layout, ordinal))));
}

/**
 * Give back whole runs (a released child's block, clipped to the pools by the caller) merged with
 * their neighbours. The runs must not overlap the free ranges already there.
 */
export async function returnRangesToFreeSpace(db: BoundConnection, subnetId: number, ranges: readonly ValueRange[]): Promise<void> {
  const runs = normalizeRanges(ranges);
  if (runs.length === 0) return;
  const neighbours = rangesFromRows(
    await db.any(sql.type(freeRangeRow)`
      SELECT first_ordinal, last_ordinal FROM ${db.t.freeRange}
      WHERE subnet_id = ${subnetId}
        AND (last_ordinal = ANY(${sql.array(runs.map((r) => text(r.first - 1n)), "numeric")})
             OR first_ordinal = ANY(${sql.array(runs.map((r) => text(r.last + 1n)), "numeric")}))
    `),
  );
  if (neighbours.length > 0) {
    await db.query(sql.unsafe`
      DELETE FROM ${db.t.freeRange} WHERE subnet_id = ${subnetId} AND first_ordinal = ANY(${sql.array(neighbours.map((r) => text(r.first)), "numeric")})
    `);
  }
  await insertRanges(db, subnetId, normalizeRanges([...runs, ...neighbours]));
}

/**
 * Take a whole range (a new child's block) out of the free ranges. The free ranges it touches are
 * the one holding its first ordinal and those starting inside it: index probes, however many
 * ranges the subnet has.
 */
export async function takeRangeFromFreeSpace(db: BoundConnection, subnetId: number, range: ValueRange): Promise<void> {
  const touched = rangesFromRows(
    await db.any(sql.type(freeRangeRow)`
      SELECT first_ordinal, last_ordinal FROM (
        SELECT first_ordinal, last_ordinal FROM ${db.t.freeRange}
        WHERE subnet_id = ${subnetId} AND first_ordinal <= ${text(range.first)}::numeric ORDER BY first_ordinal DESC LIMIT 1
      ) AS below WHERE last_ordinal >= ${text(range.first)}::numeric
      UNION ALL
      SELECT first_ordinal, last_ordinal FROM ${db.t.freeRange}
      WHERE subnet_id = ${subnetId} AND first_ordinal > ${text(range.first)}::numeric AND first_ordinal <= ${text(range.last)}::numeric
    `),
  );
  await carveFreeRanges(db, subnetId, touched, [range]);
}

import { sql } from "slonik";
import { z } from "zod";
import { rangeSize, subtractRanges, totalSize } from "../../core/range.js";
import type { SubnetUsage } from "../../core/types.js";
import { keptFromChildren } from "../children/childAllocator.js";
import type { SubnetRow } from "../rows/rowShapes.js";
import { layoutOf } from "../rows/subnetRecords.js";
import { type BoundConnection } from "../database/storeDatabase.js";

const usageRow = z.object({
  id: z.number(),
  allocated: z.string(),
  free: z.string(),
  outside: z.string(),
  held: z.string(),
  held_blocks: z.string(),
  child_prefixes: z.number(),
  child_addresses: z.string(),
});

/**
 * Totals of one subnet, as decimal strings. Addresses covered by children count in
 * `childAddresses` only: `allocated` and `free` are the parent's own.
 */
export async function readSubnetUsage(db: BoundConnection, row: SubnetRow): Promise<SubnetUsage> {
  return (await readSubnetUsages(db, [row]))[0]!;
}

/**
 * `readSubnetUsage` of many subnets in one statement (a page of `ipam usage`, a tree): one round
 * trip and one plan instead of one per subnet, which is what a page of 1,000 cost. In the order given.
 */
export async function readSubnetUsages(db: BoundConnection, rows: readonly SubnetRow[]): Promise<SubnetUsage[]> {
  if (rows.length === 0) return [];
  const layouts = rows.map((row) => layoutOf(row));
  // Each subnet's pools as (subnet, first, last) rows: whether an address is outside depends on its own layout.
  const pools = rows.flatMap((row, index) => layouts[index]!.pools.map((pool) => ({ id: row.id, first: pool.first.toString(), last: pool.last.toString() })));
  const counts = await db.any(sql.type(usageRow)`
    WITH pool AS (
      SELECT * FROM unnest(${sql.array(pools.map((p) => p.id), "int4")}, ${sql.array(pools.map((p) => p.first), "numeric")},
                           ${sql.array(pools.map((p) => p.last), "numeric")}) AS p(subnet_id, lo, hi)
    ), ids AS (
      SELECT unnest(${sql.array(rows.map((row) => row.id), "int4")}) AS id
    ), children AS (
      -- Grouped over all the ids at once: as a subquery per id, with the id unknown when planning,
      -- the planner guessed an average parent's count of children and scanned the table for each.
      SELECT parent_id, count(*)::int AS prefixes, sum(2::numeric ^ (CASE family(cidr) WHEN 4 THEN 32 ELSE 128 END - masklen(cidr))) AS addresses
      FROM ${db.t.subnet} WHERE parent_id IN (SELECT id FROM ids) GROUP BY parent_id
    )
    SELECT i.id,
           (SELECT count(*) FROM ${db.t.allocatedAddress} WHERE subnet_id = i.id)::text AS allocated,
           (SELECT coalesce(sum(last_ordinal - first_ordinal + 1), 0) FROM ${db.t.freeRange} WHERE subnet_id = i.id)::text AS free,
           (SELECT count(*) FROM ${db.t.allocatedAddress} x WHERE x.subnet_id = i.id
              AND NOT EXISTS (SELECT 1 FROM pool p WHERE p.subnet_id = i.id AND x.ordinal BETWEEN p.lo AND p.hi))::text AS outside,
           (SELECT count(*) FROM ${db.t.heldAddress} h WHERE h.subnet_id = i.id AND h.held_until > now())::text AS held,
           -- Child blocks released under a hold (migration 0014) are no room for children until returned.
           (SELECT coalesce(sum(last_ordinal - first_ordinal + 1), 0) FROM ${db.t.heldBlock} WHERE parent_id = i.id)::text AS held_blocks,
           coalesce(c.prefixes, 0) AS child_prefixes, coalesce(c.addresses, 0)::numeric(39, 0)::text AS child_addresses
    FROM ids i LEFT JOIN children c ON c.parent_id = i.id
  `);
  const byId = new Map(counts.map((count) => [count.id, count]));
  return rows.map((row, index) => {
    const layout = layouts[index]!;
    const count = byId.get(row.id)!;
    const room = totalSize(subtractRanges([layout.cidr], keptFromChildren(layout))) - BigInt(count.child_addresses) - BigInt(count.allocated) - BigInt(count.held_blocks);
    return {
      subnetId: String(row.id),
      cidr: layout.cidr.text,
      total: rangeSize(layout.cidr).toString(),
      poolSize: totalSize(layout.available).toString(),
      allocated: count.allocated,
      free: count.free,
      outsidePool: count.outside,
      held: count.held,
      childPrefixes: count.child_prefixes,
      childAddresses: count.child_addresses,
      childSpaceFree: (room < 0n ? 0n : room).toString(),
    };
  });
}

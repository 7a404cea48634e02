import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import { rangeSize, subtractRanges, totalSize } from "../core/range.js";
import type { SubnetUsage } from "../core/types.js";
import { keptFromChildren } from "./childAllocator.js";
import type { SubnetRow } from "./rows.js";
import { layoutOf } from "./subnetRecords.js";
import type { Tables } from "./tables.js";
import { outsidePoolsCondition } from "./usageQueries.js";

const usageRow = z.object({
  allocated: z.string(),
  free: z.string(),
  outside: z.string(),
  child_prefixes: z.number(),
  child_addresses: z.string(),
});

/**
 * Totals of one subnet, as decimal strings. Addresses covered by children count in
 * `childAddresses` only: `allocated` and `free` are the parent's own.
 */
export async function readSubnetUsage(db: CommonQueryMethods, t: Tables, row: SubnetRow): Promise<SubnetUsage> {
  const layout = layoutOf(row);
  const id = row.id;
  const counts = await db.one(sql.type(usageRow)`
    SELECT (SELECT count(*) FROM ${t.allocatedAddress} WHERE subnet_id = ${id})::text AS allocated,
           (SELECT coalesce(sum(last_ordinal - first_ordinal + 1), 0) FROM ${t.freeRange} WHERE subnet_id = ${id})::text AS free,
           (SELECT count(*) FROM ${t.allocatedAddress} x WHERE x.subnet_id = ${id} AND ${outsidePoolsCondition(layout)})::text AS outside,
           (SELECT count(*)::int FROM ${t.subnet} WHERE parent_id = ${id}) AS child_prefixes,
           (SELECT coalesce(sum(2::numeric ^ (CASE family(cidr) WHEN 4 THEN 32 ELSE 128 END - masklen(cidr))), 0)::numeric(39, 0)
            FROM ${t.subnet} WHERE parent_id = ${id})::text AS child_addresses
  `);
  const room = totalSize(subtractRanges([layout.cidr], keptFromChildren(layout))) - BigInt(counts.child_addresses) - BigInt(counts.allocated);
  return {
    subnetId: String(id),
    cidr: layout.cidr.text,
    total: rangeSize(layout.cidr).toString(),
    poolSize: totalSize(layout.available).toString(),
    allocated: counts.allocated,
    free: counts.free,
    outsidePool: counts.outside,
    childPrefixes: counts.child_prefixes,
    childAddresses: counts.child_addresses,
    childSpaceFree: (room < 0n ? 0n : room).toString(),
  };
}

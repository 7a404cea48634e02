import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import { allocationHolding } from "./allocationQueries.js";
import { subnetRow, type AllocationRow, type SubnetRow } from "./rows.js";
import { selectSubnet } from "./subnetQueries.js";
import type { Tables } from "./tables.js";

/** At most this many subnets answer one search: the nesting depth of a tree, in every namespace. */
export const SEARCH_LIMIT = 50;

/**
 * Subnets containing a canonical address or CIDR (`>>=`, so a CIDR finds itself too), most
 * specific first, with the allocation holding the address in each (an address only).
 */
export async function searchAddressSpace(
  db: CommonQueryMethods,
  t: Tables,
  query: { text: string; isAddress: boolean },
): Promise<{ subnets: SubnetRow[]; holders: AllocationRow[] }> {
  const subnets = await db.any(sql.type(subnetRow)`
    ${selectSubnet(t)} WHERE s.cidr >>= ${query.text}::inet
    ORDER BY masklen(s.cidr) DESC, n.name, s.id LIMIT ${SEARCH_LIMIT}
  `);
  const holders: AllocationRow[] = [];
  if (query.isAddress) {
    for (const subnet of subnets) {
      const holder = await allocationHolding(db, t, subnet.id, query.text);
      if (holder !== null) holders.push(holder);
    }
  }
  return { subnets: [...subnets], holders };
}

/** Ids of the allocations holding an address between two (one cell of a map), lowest first, at most `limit`. */
export async function allocationIdsInRange(db: CommonQueryMethods, t: Tables, subnetId: number, first: string, last: string, limit: number): Promise<string[]> {
  const ids = await db.anyFirst(sql.type(z.object({ id: z.string() }))`
    SELECT d.id::text AS id FROM (
      SELECT DISTINCT allocation_id AS id FROM ${t.allocatedAddress}
      WHERE subnet_id = ${subnetId} AND address BETWEEN ${first}::inet AND ${last}::inet
    ) AS d ORDER BY d.id LIMIT ${limit}
  `);
  return [...ids];
}

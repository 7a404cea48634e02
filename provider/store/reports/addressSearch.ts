import { sql } from "slonik";
import { z } from "zod";
import { parseAddress, parseCidr } from "../../core/address.js";
import type { Allocation, Subnet } from "../../core/types.js";
import { type StoreDatabase } from "../database/storeDatabase.js";
import { allocationFromRow, allocationHolding, getAllocationRow } from "../rows/allocationQueries.js";
import { subnetRow } from "../rows/rowShapes.js";
import { selectSubnet } from "../rows/subnetQueries.js";
import { subnetFromRow, subnetKey } from "../rows/subnetRecords.js";

/** At most this many subnets answer one search (the nesting depth of a tree, in every namespace), and holders of one map cell. */
export const SEARCH_LIMIT = 50;

export interface AddressSearchResult {
  /** The address or CIDR searched for, canonical. */
  readonly query: string;
  readonly isAddress: boolean;
  /** Subnets containing it (a CIDR finds itself too), most specific first. */
  readonly subnets: readonly Subnet[];
  /** For an address: the allocation holding it in each subnet that holds it. */
  readonly allocations: readonly Allocation[];
}

/**
 * The search box: an address (`10.0.0.5`) or a CIDR (`10.0.0.0/24`), read at one moment.
 * @throws InvalidInputError naming `q`
 */
export async function searchAddressSpace(store: StoreDatabase, text: string): Promise<AddressSearchResult> {
  const isAddress = !text.includes("/");
  const query = isAddress ? parseAddress(text, "q").text : parseCidr(text, "q").text;
  return store.consistent("searching", async (db) => {
    const rows = await db.any(sql.type(subnetRow)`
      ${selectSubnet(db.t)} WHERE s.cidr >>= ${query}::inet
      ORDER BY masklen(s.cidr) DESC, n.name, s.id LIMIT ${SEARCH_LIMIT}
    `);
    const allocations: Allocation[] = [];
    if (isAddress) {
      // Per containing subnet, through its primary key (subnet_id, address): there are few.
      for (const row of rows) {
        const holder = await allocationHolding(db, row.id, query);
        if (holder !== null) allocations.push(allocationFromRow(holder));
      }
    }
    return { query, isAddress, subnets: rows.map((row) => subnetFromRow(row)), allocations };
  });
}

/**
 * Allocations holding an address from `first` to `last` of a subnet (one cell of its map), by id,
 * at most SEARCH_LIMIT.
 * @throws InvalidInputError
 */
export async function allocationsInRange(store: StoreDatabase, subnetId: string, first: string, last: string): Promise<Allocation[]> {
  const id = subnetKey(subnetId);
  const from = parseAddress(first, "first").text;
  const to = parseAddress(last, "last").text;
  return store.consistent("reading a map cell", async (db) => {
    const ids = await db.anyFirst(sql.type(z.object({ id: z.string() }))`
      SELECT d.id::text AS id FROM (
        SELECT DISTINCT allocation_id AS id FROM ${db.t.allocatedAddress}
        WHERE subnet_id = ${id} AND address BETWEEN ${from}::inet AND ${to}::inet
      ) AS d ORDER BY d.id LIMIT ${SEARCH_LIMIT}
    `);
    const allocations: Allocation[] = [];
    for (const allocationId of ids) {
      const row = await getAllocationRow(db, allocationId);
      if (row !== null) allocations.push(allocationFromRow(row));
    }
    return allocations;
  });
}

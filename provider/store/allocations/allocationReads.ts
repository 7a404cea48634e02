import { parseAddress } from "../../core/address.js";
import { NotFoundError } from "../../core/errors.js";
import { allocationFilterSchema, allocationIdSchema, idempotencyKeySchema, pageSchema, parseInput } from "../../core/schemas.js";
import { type Allocation } from "../../core/types.js";
import { allocationFromRow, allocationHolding, getAllocationByKey, getAllocationRow, listAllocationRows } from "../rows/allocationQueries.js";
import { type StoreDatabase } from "../database/storeDatabase.js";
import { subnetKey } from "../rows/subnetRecords.js";

/* Reading allocations: by id, by key, by address, a page. */

/** @throws InvalidInputError, NotFoundError */
export async function getAllocation(db: StoreDatabase, allocationId: string): Promise<Allocation> {
  const id = parseInput(allocationIdSchema, allocationId, "allocationId");
  const row = await db.read("reading an allocation", (tx) => getAllocationRow(tx, id));
  if (row === null) throw new NotFoundError("allocation", allocationId);
  return allocationFromRow(row);
}

export async function findAllocationByKey(db: StoreDatabase, subnetId: string, idempotencyKey: string): Promise<Allocation | null> {
  const id = subnetKey(subnetId);
  const key = parseInput(idempotencyKeySchema, idempotencyKey, "idempotencyKey");
  const row = await db.read("reading an allocation", (tx) => getAllocationByKey(tx, id, key));
  return row === null ? null : allocationFromRow(row);
}

/** Allocations of a subnet (or of an owner), by id, in pages: pass the returned `next` as `after`. */
export async function listAllocations(db: StoreDatabase, 
  filter: { subnetId?: string; owner?: string },
  page: { limit?: number; after?: string } = {},
): Promise<{ allocations: Allocation[]; next: string | null }> {
  const { limit = 100, after } = parseInput(pageSchema, page);
  const { subnetId, owner } = parseInput(allocationFilterSchema, filter);
  const rows = await db.read("listing allocations", (tx) =>
    listAllocationRows(
      tx,
      { ...(subnetId === undefined ? {} : { subnetId: Number(subnetId) }), ...(owner === undefined ? {} : { owner }) },
      limit,
      after,
    ),
  );
  return { allocations: rows.map(allocationFromRow), next: rows.length === limit ? rows.at(-1)!.id : null };
}

/** Which allocation holds `address` in a subnet, or null. */
export async function whoHolds(db: StoreDatabase, subnetId: string, address: string): Promise<Allocation | null> {
  const id = subnetKey(subnetId);
  const parsed = parseAddress(address, "address");
  const row = await db.read("looking up an address", (tx) => allocationHolding(tx, id, parsed.text));
  return row === null ? null : allocationFromRow(row);
}

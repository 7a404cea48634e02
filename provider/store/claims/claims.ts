import { sql } from "slonik";
import { subnetRow, type SubnetRow, idRow, claimRow, ownerRow } from "../rows/rowShapes.js";
import { selectSubnet } from "../rows/subnetQueries.js";
import { type BoundConnection } from "../database/storeDatabase.js";

/**
 * Claims (README "Claims", migration 0004): the token of the latest of several claimants of one
 * subnet or allocation. A request carrying an older token than the stored one is superseded; a
 * stored NULL (no second claimant so far) supersedes no one.
 */
export function isSuperseded(stored: string | null, claim: string | undefined): boolean {
  return claim !== undefined && stored !== null && stored !== claim;
}

/** Make `claim` the latest claimant of an allocation (and, on adoption, its owner). Call under the subnet's lock. */
export async function recordAllocationClaim(
  db: BoundConnection,
  target: { id: string; subnetId: number; cidr: string },
  claim: string,
  newOwner: string | null,
): Promise<boolean> {
  const before = await db.maybeOne(sql.type(ownerRow)`
    SELECT owner FROM ${db.t.allocation} WHERE id = ${target.id}::bigint FOR UPDATE
  `);
  if (before === null) return false;
  await db.query(sql.unsafe`
    UPDATE ${db.t.allocation} SET claim = ${claim}, owner = coalesce(${newOwner}, owner), updated_at = now() WHERE id = ${target.id}::bigint
  `);
  // The audit trigger records it: "adopt" with the previous owner when the owner changes, else "claim".
  return true;
}

/** Make `claim` the latest claimant of a subnet. Call under the subnet's lock (or its parent's, for a child). */
export async function recordSubnetClaim(db: BoundConnection, subnet: { id: number; cidr: string }, claim: string): Promise<boolean> {
  const updated = await db.maybeOneFirst(sql.type(idRow)`
    UPDATE ${db.t.subnet} SET claim = ${claim}, updated_at = now() WHERE id = ${subnet.id} RETURNING id
  `);
  return updated !== null;
}

/** The top-level subnet created in `namespace` with an idempotency key, or null. */
export async function topLevelSubnetByKey(db: BoundConnection, namespace: string, key: string): Promise<SubnetRow | null> {
  return db.maybeOne(sql.type(subnetRow)`${selectSubnet(db.t)} WHERE n.name = ${namespace} AND s.parent_id IS NULL AND s.idempotency_key = ${key}`);
}

/** The stored claim of an allocation; undefined when the allocation is gone. */
export async function allocationClaim(db: BoundConnection, id: string): Promise<string | null | undefined> {
  const row = await db.maybeOne(sql.type(claimRow)`SELECT claim FROM ${db.t.allocation} WHERE id = ${id}::bigint`);
  return row === null ? undefined : row.claim;
}

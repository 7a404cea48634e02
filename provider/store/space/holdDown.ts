import { sql } from "slonik";
import { z } from "zod";
import { isAllocatable, type SubnetLayout } from "../../core/subnetLayout.js";
import type { ValueRange } from "../../core/range.js";
import type { Cidr } from "../../core/address.js";
import { returnToFreeSpace } from "./freeSpace.js";
import type { BoundConnection } from "../database/storeDatabase.js";
import type { Tables } from "../database/tables.js";
import { nRow } from "../rows/rowShapes.js";

/**
 * Hold-down (issue 23, migration 0011): a subnet's `release_hold_seconds` keeps released addresses
 * in `held_address` until `held_until` (the database's clock), outside the free-range index that
 * next-free, random and bulk picks read, so however many are held the picks cost the same. Expired
 * holds go back to the free space under the subnet's lock (`return_expired_holds`).
 */

export interface HeldAddress {
  readonly address: string;
  readonly owner: string;
  readonly allocationId: string;
  readonly heldUntil: string;
  readonly secondsLeft: number;
}

const heldRow = z.object({ address: z.string(), owner: z.string(), allocation_id: z.string(), held_until: z.string(), seconds_left: z.number() });
const toHeld = (row: z.infer<typeof heldRow>): HeldAddress => ({
  address: row.address,
  owner: row.owner,
  allocationId: row.allocation_id,
  heldUntil: row.held_until,
  secondsLeft: row.seconds_left,
});

/**
 * Give released addresses back: held for `holdSeconds` when the subnet has a hold, else into the free
 * space at once (today's behaviour). Addresses no longer allocatable are dropped either way.
 */
export async function releaseOrHold(
  db: BoundConnection,
  subnetId: number,
  layout: SubnetLayout,
  holdSeconds: number,
  ordinals: readonly bigint[],
  holder: { owner: string; allocationId: string },
): Promise<void> {
  if (holdSeconds <= 0) return returnToFreeSpace(db, subnetId, layout, ordinals);
  const kept = ordinals.filter((ordinal) => isAllocatable(layout, ordinal));
  if (kept.length === 0) return;
  await db.query(sql.unsafe`
    INSERT INTO ${db.t.heldAddress} (subnet_id, ordinal, address, held_until, owner, allocation_id)
    SELECT ${subnetId}, o, ${db.t.ordinalToInet}(o, ${layout.cidr.version}), now() + make_interval(secs => ${holdSeconds}), ${holder.owner}, ${holder.allocationId}::bigint
    FROM unnest(${sql.array(kept.map(String), "numeric")}) AS o
    ON CONFLICT (subnet_id, ordinal) DO UPDATE
      SET held_until = excluded.held_until, owner = excluded.owner, allocation_id = excluded.allocation_id, address = excluded.address
  `);
}

/** Return this subnet's expired holds to the free space (call under the subnet's lock, before a pick). */
export async function returnExpiredHolds(db: BoundConnection, subnetId: number): Promise<void> {
  await db.query(sql.unsafe`SELECT ${sql.identifier([db.t.schema, "return_expired_holds"])}(${subnetId})`);
}

/** The live hold on one address, or null (an expired hold is no hold). */
export async function holdOn(db: BoundConnection, subnetId: number, ordinal: bigint): Promise<HeldAddress | null> {
  const row = await db.maybeOne(sql.type(heldRow)`
    ${selectHeld(db.t)} WHERE subnet_id = ${subnetId} AND ordinal = ${ordinal.toString()}::numeric AND held_until > now()
  `);
  return row === null ? null : toHeld(row);
}

/** Take one address out of hold (its releaser takes it back, or reconcile re-asserts it). */
export async function releaseHold(db: BoundConnection, subnetId: number, ordinal: bigint): Promise<void> {
  await db.query(sql.unsafe`DELETE FROM ${db.t.heldAddress} WHERE subnet_id = ${subnetId} AND ordinal = ${ordinal.toString()}::numeric`);
}

/**
 * Keep holds inside the subnet's allocatable space when its layout changes (pools, gateway,
 * reserved, childrenOnly): a hold on an address that is no longer allocatable would otherwise
 * put it back into the free space on expiry.
 */
export async function dropHoldsOutside(db: BoundConnection, subnetId: number, available: readonly ValueRange[]): Promise<void> {
  await db.query(sql.unsafe`
    DELETE FROM ${db.t.heldAddress} h WHERE h.subnet_id = ${subnetId} AND NOT EXISTS (
      SELECT 1 FROM unnest(${sql.array(available.map((r) => r.first.toString()), "numeric")},
                           ${sql.array(available.map((r) => r.last.toString()), "numeric")}) AS r(lo, hi)
      WHERE h.ordinal BETWEEN r.lo AND r.hi)
  `);
}

/** Live holds of a subnet, soonest to expire first, at most `limit`, and how many there are. */
export async function listHolds(db: BoundConnection, subnetId: number, limit: number): Promise<{ count: number; first: HeldAddress[] }> {
  const count = await db.oneFirst(sql.type(nRow)`
    SELECT count(*)::int AS n FROM ${db.t.heldAddress} WHERE subnet_id = ${subnetId} AND held_until > now()
  `);
  const rows = await db.any(sql.type(heldRow)`
    ${selectHeld(db.t)} WHERE subnet_id = ${subnetId} AND held_until > now() ORDER BY held_until, ordinal LIMIT ${limit}
  `);
  return { count, first: rows.map(toHeld) };
}

function selectHeld(t: Tables) {
  return sql.fragment`
    SELECT host(address) AS address, owner, allocation_id::text AS allocation_id, held_until::text AS held_until,
           ceil(extract(epoch FROM held_until - now()))::int AS seconds_left
    FROM ${t.heldAddress}
  `;
}

/**
 * A child prefix released while its parent has a hold (migration 0014): the block is recorded as
 * held until `held_until`, and the schema's derivations (free ranges, free blocks) leave it out until
 * `return_expired_holds` deletes the row and derives the space back. Written in the transaction that
 * deleted the child: the guard trigger accepts it only then (or in an import).
 */
export async function holdChildBlock(
  db: BoundConnection,
  parentId: number,
  block: Cidr,
  holdSeconds: number,
  child: { id: number; key: string | null },
): Promise<void> {
  await db.query(sql.unsafe`
    INSERT INTO ${db.t.heldBlock} (parent_id, cidr, first_ordinal, last_ordinal, held_until, child_id, child_key)
    VALUES (${parentId}, ${block.text}::cidr, ${block.first.toString()}::numeric, ${block.last.toString()}::numeric,
            now() + make_interval(secs => ${holdSeconds}), ${child.id}, ${child.key})
    ON CONFLICT (parent_id, cidr) DO UPDATE
      SET held_until = excluded.held_until, child_id = excluded.child_id, child_key = excluded.child_key
  `);
}

export interface HeldBlock {
  readonly cidr: string;
  readonly childId: string;
  readonly heldUntil: string;
  readonly secondsLeft: number;
}

const heldBlockRow = z.object({ cidr: z.string(), child_id: z.number(), held_until: z.string(), seconds_left: z.number() });
const selectHeldBlock = (t: Tables) => sql.fragment`
  SELECT cidr::text AS cidr, child_id, held_until::text AS held_until, ceil(extract(epoch FROM held_until - now()))::int AS seconds_left
  FROM ${t.heldBlock}
`;
const toHeldBlock = (row: z.infer<typeof heldBlockRow>): HeldBlock => ({ cidr: row.cidr, childId: String(row.child_id), heldUntil: row.held_until, secondsLeft: row.seconds_left });

/** The live held block of `parentId` overlapping `range`, or null (an expired hold is no hold). */
export async function heldBlockOver(db: BoundConnection, parentId: number, range: ValueRange): Promise<HeldBlock | null> {
  const row = await db.maybeOne(sql.type(heldBlockRow)`
    ${selectHeldBlock(db.t)}
    WHERE parent_id = ${parentId} AND held_until > now()
      AND first_ordinal <= ${range.last.toString()}::numeric AND last_ordinal >= ${range.first.toString()}::numeric
    ORDER BY first_ordinal LIMIT 1
  `);
  return row === null ? null : toHeldBlock(row);
}

/** Live held blocks of a parent, soonest to expire first, at most `limit`. */
export async function listHeldBlocks(db: BoundConnection, parentId: number, limit: number): Promise<HeldBlock[]> {
  const rows = await db.any(sql.type(heldBlockRow)`
    ${selectHeldBlock(db.t)} WHERE parent_id = ${parentId} AND held_until > now() ORDER BY held_until, first_ordinal LIMIT ${limit}
  `);
  return rows.map(toHeldBlock);
}

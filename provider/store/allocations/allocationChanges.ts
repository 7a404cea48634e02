import { InvalidInputError, NotFoundError, SupersededError } from "../../core/errors.js";
import { allocateSchema, allocationIdSchema, claimSchema, ownerSchema, parseInput, resizeSchema, subnetIdSchema } from "../../core/schemas.js";
import { type Allocation, type ReleaseResult } from "../../core/types.js";
import { growAllocation } from "./addressAllocator.js";
import { allocationFromRow, allocationSubnet, getAllocationRow, releaseHighest, sortedAddresses } from "../rows/allocationQueries.js";
import { takeForRelease } from "./releaseStatement.js";
import { NOT_RELEASED, releaseInOneStatement, SUPERSEDED } from "./releaseInOneStatement.js";
import type { PipelinedTransactions } from "../database/pipelinedTransactions.js";
import { allocationClaim, isSuperseded, recordAllocationClaim } from "../claims/claims.js";
import { type AllocationRow } from "../rows/rowShapes.js";
import { type StoreDatabase } from "../database/storeDatabase.js";
import { releaseOrHold } from "../space/holdDown.js";
import { getSubnetRow } from "../rows/subnetQueries.js";
import { layoutOf } from "../rows/subnetRecords.js";
import { sql } from "slonik";
import { z } from "zod";

/* Changing an allocation under its subnet's lock: adopt, release, resize, update. */

// Made once: a schema made per call costs zod 4 a compiled parser per call (rows/rowShapes.ts).
const adoptSchema = z.strictObject({ allocationId: allocationIdSchema, owner: ownerSchema, claim: claimSchema });
const updateSchema = z.strictObject({ allocationId: allocationIdSchema, description: allocateSchema.shape.description, tags: allocateSchema.shape.tags, claim: claimSchema.optional() });

/**
 * Take over an existing allocation (made by the CLI or another stack): `owner` becomes its owner
 * and `claim` its latest claimant, so the previous holder's release or refresh is superseded.
 * @throws InvalidInputError, NotFoundError
 */
export async function adoptAllocation(db: StoreDatabase, input: { allocationId: string; owner: string; claim: string }): Promise<Allocation> {
  const fields = parseInput(adoptSchema, input);
  const adopted = await claimAllocation(db, fields.allocationId, fields.claim, fields.owner);
  if (adopted === null) throw new NotFoundError("allocation", fields.allocationId);
  return allocationFromRow(adopted);
}

/** Record `claim` (and a new owner) on an allocation under its subnet's lock; null when it is gone. */
export async function claimAllocation(db: StoreDatabase, allocationId: string, claim: string, owner: string | null): Promise<AllocationRow | null> {
  const subnetId = await db.read("reading an allocation", (tx) => allocationSubnet(tx, allocationId));
  if (subnetId === null) return null;
  return db.locked([subnetId], "claiming an allocation", async (tx) => {
    const subnet = await getSubnetRow(tx, subnetId);
    if (subnet === null || !(await recordAllocationClaim(tx, { id: allocationId, subnetId, cidr: subnet.cidr }, claim, owner))) return null;
    return (await getAllocationRow(tx, allocationId))!;
  });
}

/**
 * Release an allocation and all its addresses. Releasing twice is harmless. With a `claim` older
 * than the allocation's latest claimant, nothing changes and `superseded` is true. `subnetId`, when
 * the caller knows it (the provider's state records it), saves the read that finds the subnet to
 * lock: the allocation is looked up under that lock, and one found in another subnet (a stale or
 * crossed id) is released through the lookup as if no subnet had been given.
 */
export async function release(
  db: StoreDatabase,
  allocationId: string,
  options: { claim?: string; subnetId?: string } = {},
  pipelined: PipelinedTransactions | null = null,
): Promise<ReleaseResult> {
  const id = parseInput(allocationIdSchema, allocationId, "allocationId");
  const { claim, subnetId: known } = parseInput(releaseOptionsSchema, options);
  if (known !== undefined) {
    const released = await releaseInSubnet(db, pipelined, Number(known), id, claim);
    if (released !== "elsewhere") return released;
  }
  const subnetId = await db.read("reading an allocation", (tx) => allocationSubnet(tx, id));
  if (subnetId === null) return NOT_RELEASED;
  const released = await releaseInSubnet(db, pipelined, subnetId, id, claim);
  // Allocations never change subnet: one that is not in the subnet just read is gone.
  return released === "elsewhere" ? NOT_RELEASED : released;
}

/**
 * One statement (migration 0023) unless the subnet holds released addresses back, or locking is
 * switched off for an ablation (the statement always locks): then the transaction below.
 */
async function releaseInSubnet(db: StoreDatabase, pipelined: PipelinedTransactions | null, subnetId: number, id: string, claim: string | undefined): Promise<ReleaseResult | "elsewhere"> {
  if (!db.settings.unsafeSkipLocking) {
    const released = await releaseInOneStatement(db, pipelined, subnetId, id, claim);
    if (released !== "hold_down") return released;
  }
  return releaseUnderLock(db, subnetId, id, claim);
}

const releaseOptionsSchema = z.strictObject({ claim: claimSchema.optional(), subnetId: subnetIdSchema.optional() });

/**
 * The release in one transaction holding `subnetId`'s lock, for a subnet with a hold-down (and
 * under unsafeSkipLocking): one statement reads the
 * allocation, its claim, its addresses and its subnet's layout and deletes it when it is in this
 * subnet and the claim is not superseded (the audit trigger records the release), then the
 * addresses go back to the free space or into hold-down. A destroy releases every allocation of a
 * stack, each its own call: every round trip saved here is one per resource (bench scenario 13):
 * BEGIN, timeouts + lock, this statement, the free space, COMMIT.
 * @returns "elsewhere" when the allocation is in another subnet
 */
async function releaseUnderLock(db: StoreDatabase, subnetId: number, id: string, claim: string | undefined): Promise<ReleaseResult | "elsewhere"> {
  return db.locked([subnetId], "releasing", async (tx) => {
    const taken = await takeForRelease(tx, subnetId, id, claim);
    if (taken === null) return NOT_RELEASED;
    if (taken.subnet_id !== subnetId) return "elsewhere";
    if (isSuperseded(taken.claim, claim)) return SUPERSEDED;
    if (taken.deleted_owner === null) return NOT_RELEASED;
    const ordinals = taken.ordinals.map((ordinal) => BigInt(ordinal));
    await releaseOrHold(tx, subnetId, layoutOf(taken), taken.release_hold_seconds, ordinals, { owner: taken.deleted_owner, allocationId: id });
    return { released: true, addresses: sortedAddresses(taken, ordinals) };
  });
}

/**
 * Change how many addresses an allocation holds: growing adds addresses with its strategy and
 * keeps the existing ones; shrinking releases its highest addresses.
 * @throws InvalidInputError, NotFoundError, SubnetExhaustedError, SupersededError (an older `claim`)
 */
export async function resizeAllocation(db: StoreDatabase, input: { allocationId: string; count: number; claim?: string }): Promise<{ allocation: Allocation; released: string[] }> {
  const { allocationId, count, claim } = parseInput(resizeSchema, input);
  const subnetId = await db.read("reading an allocation", (tx) => allocationSubnet(tx, allocationId));
  if (subnetId === null) throw new NotFoundError("allocation", allocationId);
  return db.locked([subnetId], "resizing an allocation", async (tx) => {
    const current = await getAllocationRow(tx, allocationId);
    if (current === null) throw new NotFoundError("allocation", allocationId);
    if (isSuperseded(current.claim, claim)) throw new SupersededError("allocation", allocationId);
    const row = (await getSubnetRow(tx, subnetId))!;
    const layout = layoutOf(row);
    const held = current.ordinals.length;
    let released: string[] = [];
    if (count > held) {
      if (current.strategy === "specific") throw InvalidInputError.of("count", "an allocation of a specific address holds exactly one address");
      await growAllocation(tx, { subnetId, layout, owner: current.owner, strategy: current.strategy }, allocationId, count - held);
    } else if (count < held) {
      const freed = await releaseHighest(tx, subnetId, allocationId, held - count);
      await releaseOrHold(tx, subnetId, layout, row.release_hold_seconds, freed.ordinals, { owner: current.owner, allocationId });
      released = sortedAddresses(row, freed.ordinals);
    }
    return { allocation: allocationFromRow((await getAllocationRow(tx, allocationId))!), released };
  });
}

/**
 * Update the description and tags of an allocation.
 * @throws InvalidInputError, NotFoundError, SupersededError (an older `claim`)
 */
export async function updateAllocation(db: StoreDatabase, input: { allocationId: string; description?: string; tags?: Record<string, string>; claim?: string }): Promise<Allocation> {
  const fields = parseInput(updateSchema, input);
  const subnetId = await db.read("reading an allocation", (tx) => allocationSubnet(tx, fields.allocationId));
  if (subnetId === null) throw new NotFoundError("allocation", fields.allocationId);
  return db.locked([subnetId], "updating an allocation", async (tx) => {
    const stored = await allocationClaim(tx, fields.allocationId);
    if (stored !== undefined && isSuperseded(stored, fields.claim)) throw new SupersededError("allocation", fields.allocationId);
    await tx.query(sql.unsafe`
      UPDATE ${db.t.allocation}
      SET description = coalesce(${fields.description ?? null}, description),
          tags = coalesce(${fields.tags === undefined ? null : sql.jsonb(fields.tags)}, tags), updated_at = now()
      WHERE id = ${fields.allocationId}::bigint
    `);
    const row = await getAllocationRow(tx, fields.allocationId);
    if (row === null) throw new NotFoundError("allocation", fields.allocationId);
    return allocationFromRow(row);
  });
}

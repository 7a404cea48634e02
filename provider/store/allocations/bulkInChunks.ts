import { sql } from "slonik";
import { z } from "zod";
import { IpamError, OutcomeUnknownError, RetryableDatabaseError, SubnetExhaustedError } from "../../core/errors.js";
import type { StoredStrategy } from "../../core/types.js";
import { allocateAddresses, growAllocation, type NewAllocation } from "./addressAllocator.js";
import { getAllocationRow, releaseHighest } from "../rows/allocationQueries.js";
import { type AllocationRow } from "../rows/rowShapes.js";
import { requireSubnetRow } from "../rows/subnetQueries.js";
import { layoutOf } from "../rows/subnetRecords.js";
import { returnExpiredHolds } from "../space/holdDown.js";
import { returnToFreeSpace } from "../space/freeSpace.js";
import type { BoundConnection, StoreDatabase } from "../database/storeDatabase.js";

/*
 * Big bulks in chunks (issue 25). A bulk's cost is row work (each address: a row, three index
 * entries, foreign keys, the audit and guard triggers; each random pick also splits a free range),
 * so one transaction of 65,536 addresses held the subnet's lock for 17-34 s, and every other
 * allocation in the subnet waited or timed out behind it. Now each chunk of BULK_CHUNK addresses is
 * its own transaction under the lock, and other allocations take the lock between chunks.
 *
 * To its caller the request stays all or nothing: until its last chunk commits the allocation is
 * pending (table pending_allocation, migration 0013), and a failure on the way gives back every
 * address it took before it is reported. It stays idempotent: a retry with the same key finds the
 * pending allocation and completes it (a concurrent twin helps complete it), so one key makes one
 * allocation. A writer that dies leaves its allocation pending until its lease ends; then the
 * subnet's next locked allocation gives its addresses back, a chunk at a time.
 */

/** Addresses written per transaction: 2,048 held the lock up to 2.0 s at load 20 on this 2-core machine (issue 25 bounds a hold at 2 s). */
export const BULK_CHUNK = 1024;

/** How long a pending allocation's writer counts as alive after its last chunk: any one wait for the lock plus a few statements. */
export function bulkLeaseMs(settings: { lockTimeoutMs: number; statementTimeoutMs: number }): number {
  return settings.lockTimeoutMs + 4 * settings.statementTimeoutMs;
}

/** A bulk whose pending allocation was released by someone else (or after its lease ended) before it was complete. */
export class BulkInterruptedError extends IpamError {
  constructor(allocationId: string) {
    super(
      "RETRYABLE",
      `the bulk allocation ${allocationId} was released before it was complete (by a release, or after its writer was silent past its lease); nothing is allocated to this request, retry`,
      { retryable: true },
    );
  }
}

/** A failed bulk whose partial allocation could not be given back at once: it says so, and what happens to it. */
export class BulkLeftPendingError extends IpamError {
  constructor(allocationId: string, cause: unknown) {
    super(
      "RETRYABLE",
      `the bulk allocation failed (${cause instanceof Error ? cause.message : "error"}) and its partly written allocation ${allocationId} could not be released yet: ` +
        `it is pending, holds no address for this request, and is released by the subnet's next allocation once its lease ends; a retry with the same idempotency key completes it instead`,
      { cause, retryable: true },
    );
  }
}

const pendingRow = z.object({ target_count: z.number(), held: z.number() });

/** A pending allocation's target and the addresses it holds now, or null when it is complete (or gone). */
export async function pendingBulk(db: BoundConnection, allocationId: string): Promise<{ target: number; held: number } | null> {
  const row = await db.maybeOne(sql.type(pendingRow)`
    SELECT p.target_count, (SELECT count(*)::int FROM ${db.t.allocatedAddress} x WHERE x.allocation_id = p.allocation_id) AS held
    FROM ${db.t.pendingAllocation} p WHERE p.allocation_id = ${allocationId}::bigint
  `);
  return row === null ? null : { target: row.target_count, held: row.held };
}

/**
 * The first chunk, inside the transaction that validated the request (under the subnet's lock):
 * the allocation with BULK_CHUNK addresses, marked pending until it holds `request.count`.
 * @returns the allocation's id
 */
export async function startBulk(db: BoundConnection, request: NewAllocation, leaseMs: number): Promise<string> {
  const id = await asRequested(request.subnetId, request.count, () => allocateAddresses(db, { ...request, count: BULK_CHUNK }));
  await db.query(sql.unsafe`
    INSERT INTO ${db.t.pendingAllocation} (allocation_id, subnet_id, target_count, lease_until)
    VALUES (${id}::bigint, ${request.subnetId}, ${request.count}, now() + make_interval(secs => ${leaseMs / 1000}))
  `);
  return id;
}

/**
 * Write the remaining chunks of a pending allocation, each in its own locked transaction, and
 * return it complete. Also how a retry with the same key (or a concurrent twin) completes it.
 * On a failure every address the allocation holds is given back before the error is thrown.
 * @throws BulkInterruptedError (released meanwhile: nothing allocated), the chunk's own error
 *   (SubnetExhaustedError for the whole count, …) once everything was given back, or
 *   BulkLeftPendingError when giving back failed too
 */
export async function finishBulk(db: StoreDatabase, subnetId: number, allocationId: string): Promise<AllocationRow> {
  const leaseMs = bulkLeaseMs(db.settings);
  try {
    for (;;) {
      const done = await db.locked([subnetId], "allocating", (tx) => nextChunk(tx, subnetId, allocationId, leaseMs));
      if (done !== null) return done;
    }
  } catch (error) {
    if (error instanceof BulkInterruptedError) throw error;
    const outcome = await giveBack(db, subnetId, allocationId, error);
    if (outcome instanceof Error) throw outcome;
    return outcome;
  }
}

const chunkRow = z.object({ target_count: z.number(), held: z.number(), owner: z.string(), strategy: z.enum(["specific", "sequential", "random"]) });

/** One chunk under the lock; the complete allocation once nothing is left to write, else null. */
async function nextChunk(tx: BoundConnection, subnetId: number, allocationId: string, leaseMs: number): Promise<AllocationRow | null> {
  const pending = await tx.maybeOne(sql.type(chunkRow)`
    SELECT p.target_count, a.owner, a.strategy,
           (SELECT count(*)::int FROM ${tx.t.allocatedAddress} x WHERE x.allocation_id = p.allocation_id) AS held
    FROM ${tx.t.pendingAllocation} p JOIN ${tx.t.allocation} a ON a.id = p.allocation_id
    WHERE p.allocation_id = ${allocationId}::bigint
  `);
  if (pending === null) {
    // Completed by a twin with the same key, or released.
    const row = await getAllocationRow(tx, allocationId);
    if (row === null) throw new BulkInterruptedError(allocationId);
    return row;
  }
  const take = Math.min(BULK_CHUNK, pending.target_count - pending.held);
  if (take > 0) {
    const subnet = await requireSubnetRow(tx, subnetId, String(subnetId));
    await returnExpiredHolds(tx, subnetId);
    const strategy: StoredStrategy = pending.strategy;
    await asRequested(subnetId, pending.target_count, () =>
      growAllocation(tx, { subnetId, layout: layoutOf(subnet), owner: pending.owner, strategy }, allocationId, take),
    );
  }
  if (pending.held + take < pending.target_count) {
    await tx.query(sql.unsafe`
      UPDATE ${tx.t.pendingAllocation} SET lease_until = now() + make_interval(secs => ${leaseMs / 1000}) WHERE allocation_id = ${allocationId}::bigint
    `);
    return null;
  }
  await tx.query(sql.unsafe`DELETE FROM ${tx.t.pendingAllocation} WHERE allocation_id = ${allocationId}::bigint`);
  return getAllocationRow(tx, allocationId);
}

/** A chunk that found the subnet full reports the whole request's count, as one transaction would have. */
async function asRequested<T>(subnetId: number, count: number, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof SubnetExhaustedError) throw new SubnetExhaustedError(String(subnetId), count);
    throw error;
  }
}

/**
 * Give back every address of a failed bulk, a chunk per locked transaction, then delete it. Its
 * lease is ended first, so if this fails part way the subnet's next allocation finishes the job.
 * An allocation that is complete after all (the last chunk's COMMIT arrived though its answer was
 * lost, or a twin with the same key completed it) is someone's result: it is kept and returned.
 * @returns the complete allocation, or the error to report: the original one when everything was
 *   given back, else BulkLeftPendingError
 */
async function giveBack(db: StoreDatabase, subnetId: number, allocationId: string, cause: unknown): Promise<AllocationRow | Error> {
  try {
    const complete = await db.read("reading an allocation", async (tx) =>
      (await pendingBulk(tx, allocationId)) === null ? getAllocationRow(tx, allocationId) : null,
    );
    if (complete !== null) return complete;
    await db.locked([subnetId], "releasing a failed bulk", (tx) =>
      tx.query(sql.unsafe`UPDATE ${tx.t.pendingAllocation} SET lease_until = '-infinity' WHERE allocation_id = ${allocationId}::bigint`),
    );
    while (await db.locked([subnetId], "releasing a failed bulk", (tx) => releaseChunk(tx, subnetId, allocationId))) {
      // one chunk per lock hold
    }
    // A chunk's lost COMMIT left its outcome unknown; now it is known: nothing is allocated.
    if (cause instanceof OutcomeUnknownError) return new RetryableDatabaseError("the connection was lost while allocating; every address the bulk had taken was given back", cause, "connection-lost");
    return cause instanceof Error ? cause : new Error(String(cause));
  } catch {
    return new BulkLeftPendingError(allocationId, cause);
  }
}

const idRow = z.object({ allocation_id: z.string() });

/**
 * Under the subnet's lock, before a pick: give back up to one chunk of one pending allocation whose
 * lease ended (its writer died or gave up). Bounded work per lock holder, so reaping a dead bulk
 * never makes anyone hold the lock long either.
 */
export async function reapAbandonedBulk(tx: BoundConnection, subnetId: number): Promise<void> {
  const abandoned = await tx.maybeOneFirst(sql.type(idRow)`
    SELECT allocation_id::text FROM ${tx.t.pendingAllocation} WHERE subnet_id = ${subnetId} AND lease_until < now() ORDER BY lease_until LIMIT 1
  `);
  if (abandoned !== null) await releaseChunk(tx, subnetId, abandoned);
}

/**
 * Release up to BULK_CHUNK of a pending allocation's addresses straight to the free space (never
 * held: nobody was ever given them), and the allocation itself once it holds none.
 * @returns whether anything is left to release
 */
async function releaseChunk(tx: BoundConnection, subnetId: number, allocationId: string): Promise<boolean> {
  // Only a pending allocation: one that a twin completed meanwhile is someone's result now.
  const pending = await tx.maybeOneFirst(sql.type(idRow)`
    SELECT allocation_id::text FROM ${tx.t.pendingAllocation} WHERE allocation_id = ${allocationId}::bigint FOR UPDATE
  `);
  if (pending === null) return false;
  const subnet = await requireSubnetRow(tx, subnetId, String(subnetId));
  const freed = await releaseHighest(tx, subnetId, allocationId, BULK_CHUNK);
  await returnToFreeSpace(tx, subnetId, layoutOf(subnet), freed.ordinals);
  if (freed.ordinals.length === BULK_CHUNK) return true;
  await tx.query(sql.unsafe`DELETE FROM ${tx.t.allocation} WHERE id = ${allocationId}::bigint`);
  return false;
}

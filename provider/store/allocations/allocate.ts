import { parseAddress, type IpAddress } from "../../core/address.js";
import { AddressHeldError, AddressInUseError, InvalidInputError, LockTimeoutError, SubnetExhaustedError } from "../../core/errors.js";
import { allocateSchema, parseInput, type AllocateInput } from "../../core/schemas.js";

type AllocateRequest = ReturnType<typeof allocateSchema.parse>;
import { specificAddressProblem } from "../../core/subnetLayout.js";
import type { AllocationResult, StoredStrategy } from "../../core/types.js";
import { allocateAddresses } from "./addressAllocator.js";
import { BULK_CHUNK, bulkLeaseMs, finishBulk, pendingBulk, reapAbandonedBulk, startBulk } from "./bulkInChunks.js";
import type { NextFreeBatcher } from "./nextFreeBatcher.js";
import { claimAllocation } from "./allocationChanges.js";
import { allocationFromRow, allocationResultFromRow, getAllocationByKey, getAllocationRow } from "../rows/allocationQueries.js";
import { assertDirectAllocationAllowed, refuseIfChildrenOnly } from "../children/parentGuards.js";
import { refuseAllocationMismatch, type AllocationAsked } from "../claims/replayCheck.js";
import { failureOf, wrapDatabaseError } from "../database/databaseErrors.js";
import { keyedWrite } from "../claims/keyedWrite.js";
import { withLockHolder } from "../database/lockHolder.js";
import { type AllocationRow } from "../rows/rowShapes.js";
import { type StoreDatabase } from "../database/storeDatabase.js";
import { requireSubnetRow } from "../rows/subnetQueries.js";
import { layoutOf } from "../rows/subnetRecords.js";
import { heldBlockOver, holdOn, releaseHold, returnExpiredHolds } from "../space/holdDown.js";
import type { BoundConnection } from "../database/storeDatabase.js";

/* Allocating addresses: the next-free hot path (group commit) or one locked transaction, both under the keyed-write sequence. */

/**
 * Allocate a specific address, the lowest free one, a random free one, or `count` at once
 * (all or nothing). With an idempotency key, repeating the request returns the first result.
 * @throws InvalidInputError, NotFoundError, AddressInUseError, SubnetExhaustedError, IdempotencyMismatchError
 */
export async function allocate(db: StoreDatabase, nextFree: NextFreeBatcher, input: AllocateInput): Promise<AllocationResult> {
  const request = parseInput(allocateSchema, input);
  const subnetId = Number(request.subnetId);
  const address = request.address === undefined ? null : parseAddress(request.address, "address");
  const strategy = address !== null ? "specific" : (request.strategy ?? "sequential");
  const key = request.idempotencyKey ?? null;
  const asked: AllocationAsked = { owner: request.owner, count: request.count ?? 1, strategy, address: address?.text ?? null };
  const replay = () => replayAllocation(db, subnetId, key!, asked, request.claim);
  const isNextFree = address === null && strategy === "sequential" && (request.count ?? 1) === 1 && db.settings.unsafeSkipLocking !== true;
  return keyedWrite({
    key,
    // The next-free statement meets an earlier request with the same key as a unique violation (or,
    // in a full subnet, as exhaustion), both replayed, so a first request costs one round trip.
    // Other paths check first: they could fail on the address before reaching the key.
    replayFirst: !isNextFree,
    replay,
    found: (row, madeNow) => allocationResultFromRow(row, madeNow),
    write: async () => {
      if (!isNextFree) return allocateLocked(db, request, address, strategy);
      // The hot path: served with the other next-free requests waiting in this process by one
      // statement (group commit, migration 0008); the lock is held for server-side work only.
      const next = { subnetId, owner: request.owner, idempotencyKey: key, description: request.description ?? "", tags: request.tags ?? {} };
      try {
        return await nextFree.allocate(next);
      } catch (error) {
        if (error instanceof SubnetExhaustedError) {
          const earlier = key === null ? null : await replay();
          if (earlier !== null) return allocationResultFromRow(earlier, false);
          await db.read("reading a subnet", (tx) => refuseIfChildrenOnly(tx, subnetId));
        }
        if (error instanceof LockTimeoutError) throw await withLockHolder(db.pool, error);
        throw error;
      }
    },
    isTwin: (error) => {
      const failure = failureOf(error);
      return failure.kind === "unique-violation" && failure.constraint === "allocation_idempotency_key";
    },
    refuse: async (error) => {
      const failure = failureOf(error);
      if (failure.kind === "unique-violation" && address !== null && failure.constraint?.startsWith("allocated_address")) {
        throw new AddressInUseError(request.subnetId, address.text);
      }
      throw wrapDatabaseError(error, "allocating");
    },
  });
}

/** Any allocation but the next-free hot path: one transaction under the subnet's lock. */
async function allocateLocked(db: StoreDatabase, request: AllocateRequest, address: IpAddress | null, strategy: StoredStrategy): Promise<AllocationResult> {
  const subnetId = Number(request.subnetId);
  const made = await db.locked([subnetId], "allocating", async (tx): Promise<AllocationResult | { pending: string }> => {
    const row = await requireSubnetRow(tx, subnetId, request.subnetId);
    const layout = layoutOf(row);
    if (address !== null) {
      const problem = specificAddressProblem(layout, address);
      if (problem !== null) throw InvalidInputError.of("address", problem);
    }
    await returnExpiredHolds(tx, subnetId);
    if (address !== null) await takeHeldBack(tx, subnetId, address, request.owner);
    await reapAbandonedBulk(tx, subnetId);
    await assertDirectAllocationAllowed(tx, row, address);
    const asked = {
      subnetId,
      layout,
      owner: request.owner,
      idempotencyKey: request.idempotencyKey ?? null,
      strategy,
      address,
      count: request.count ?? 1,
      description: request.description ?? "",
      tags: request.tags ?? {},
    };
    // A big bulk writes its first chunk here and the rest in transactions of their own (bulkInChunks.ts).
    if (asked.count > BULK_CHUNK) return { pending: await startBulk(tx, asked, bulkLeaseMs(db.settings)) };
    const id = await allocateAddresses(tx, asked);
    return allocationResultFromRow((await getAllocationRow(tx, id))!, true);
  });
  if (!("pending" in made)) return made;
  return allocationResultFromRow(await finishBulk(db, subnetId, made.pending), true);
}

/**
 * The allocation an earlier request with this key made (recording `claim` as its latest
 * claimant), or null when there is none (or it was released meanwhile).
 * @throws IdempotencyMismatchError when the earlier request asked for something else
 */
export async function replayAllocation(db: StoreDatabase, subnetId: number, key: string, asked: AllocationAsked, claim: string | undefined): Promise<AllocationRow | null> {
  const found = await db.read("reading an allocation", async (tx) => {
    const earlier = await getAllocationByKey(tx, subnetId, key);
    return earlier === null ? null : { earlier, pending: await pendingBulk(tx, earlier.id) };
  });
  if (found === null) return null;
  // A bulk still being written (its writer died, or is a twin still at work) is compared by the
  // count it was asked for, then completed here: one key, one allocation.
  refuseAllocationMismatch(key, allocationFromRow(found.earlier), asked, found.pending?.target);
  const row = found.pending === null ? found.earlier : await finishBulk(db, subnetId, found.earlier.id);
  if (claim === undefined || row.claim === claim) return row;
  return claimAllocation(db, row.id, claim, null);
}

/**
 * A specific address still held after its release (hold-down) goes only to the owner that released
 * it (a resource replaced delete-first asks for its own address back); for anyone else it is refused.
 * @throws AddressHeldError
 */
async function takeHeldBack(tx: BoundConnection, subnetId: number, address: IpAddress, owner: string): Promise<void> {
  // Inside a child block released under a hold (migration 0014): no owner of its own to give it back to.
  const block = await heldBlockOver(tx, subnetId, { first: address.value, last: address.value });
  if (block !== null) throw new AddressHeldError(String(subnetId), `${address.text} (in ${block.cidr}, released by child ${block.childId})`, block.secondsLeft);
  const hold = await holdOn(tx, subnetId, address.value);
  if (hold === null) return;
  if (hold.owner !== owner) throw new AddressHeldError(String(subnetId), address.text, hold.secondsLeft);
  await releaseHold(tx, subnetId, address.value);
}

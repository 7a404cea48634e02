import { formatAddress } from "../../core/address.js";
import { ConflictError, RetryableDatabaseError, SubnetInUseError, SupersededError } from "../../core/errors.js";
import { sameRanges, subtractRanges, type ValueRange } from "../../core/range.js";
import { LIMITS, claimOptionsSchema, parseInput, type UpdateSubnetInput, updateSubnetSchema } from "../../core/schemas.js";
import { buildLayout, type SubnetLayout } from "../../core/subnetLayout.js";
import { type SubnetUpdateResult } from "../../core/types.js";
import { allocatedIn, countAllocations } from "../rows/allocationQueries.js";
import { releaseChildBlock } from "../children/childAllocator.js";
import { countChildren, parentOf } from "../children/childQueries.js";
import { checkParentUpdate } from "../children/parentGuards.js";
import { isSuperseded } from "../claims/claims.js";
import { type BoundConnection, type StoreDatabase } from "../database/storeDatabase.js";
import { syncFreeRanges } from "../space/freeSpace.js";
import { dropHoldsOutside } from "../space/holdDown.js";
import { deleteSubnetRow, getSubnetRow, requireSubnetRow, updateSubnetRow } from "../rows/subnetQueries.js";
import { layoutOf, subnetFromRow, subnetKey } from "../rows/subnetRecords.js";

/* Changing and deleting a subnet under its lock. */

/**
 * Change pools, gateway, reserved, description, tags, childrenOnly or the child rules while
 * addresses and children are in use (existing children outside new rules stay).
 * @throws InvalidInputError, NotFoundError, ConflictError (gateway or reserved over allocated addresses
 *   or children; childrenOnly while the subnet holds allocations), SupersededError (an older `claim`)
 */
export async function updateSubnet(db: StoreDatabase, subnetId: string, patch: UpdateSubnetInput, options: { claim?: string } = {}): Promise<SubnetUpdateResult> {
  const id = subnetKey(subnetId);
  const changes = parseInput(updateSubnetSchema, patch);
  const { claim } = parseInput(claimOptionsSchema, options);
  return db.locked([id], "updating a subnet", async (tx) => {
    const row = await requireSubnetRow(tx, id, subnetId);
    if (isSuperseded(row.claim, claim)) throw new SupersededError("subnet", subnetId);
    const current = layoutOf(row);
    const layout = buildLayout(current.cidr, {
      allocationPools: changes.allocationPools === undefined ? (row.pools_explicit ? row.pools : null) : changes.allocationPools,
      gateway: changes.gateway === undefined ? row.gateway : changes.gateway,
      reserved: changes.reserved === undefined ? row.reserved : changes.reserved,
    });
    await refuseBlockedAddresses(tx, id, layout);
    const forChildren = await checkParentUpdate(tx, row, layout, changes);
    const releaseHoldSeconds = changes.releaseHoldSeconds ?? row.release_hold_seconds;
    const columns = { layout, description: changes.description ?? row.description, tags: changes.tags ?? row.tags, releaseHoldSeconds, ...forChildren };
    await updateSubnetRow(tx, id, columns);
    const allocatableBefore = row.children_only ? [] : current.available;
    const allocatableAfter = forChildren.childrenOnly ? [] : layout.available;
    if (!sameRanges(allocatableBefore, allocatableAfter)) {
      // Holds stay inside what is allocatable (none in a children-only subnet), and outside the free space.
      await dropHoldsOutside(tx, id, allocatableAfter);
      await syncFreeRanges(tx, id, changedSpace(allocatableBefore, allocatableAfter));
    }
    const outside = await addressesOutsidePools(tx, id, layout);
    return { subnet: subnetFromRow((await getSubnetRow(tx, id))!, layout), allocationsOutsidePools: outside };
  });
}

/**
 * Where a layout change can change the free index: what became allocatable and what stopped being
 * so. The free index is re-derived there only (`sync_free_ranges`), not over the whole subnet,
 * so a change of pools, gateway or reserved ranges costs what it touches, not how full the subnet
 * is; the function still derives the truth inside those windows from the subnet's row.
 */
export function changedSpace(before: readonly ValueRange[], after: readonly ValueRange[]): ValueRange[] {
  return [...subtractRanges(before, after), ...subtractRanges(after, before)];
}

/** Refuse a layout whose gateway or reserved ranges cover allocated addresses, naming them. */
export async function refuseBlockedAddresses(tx: BoundConnection, id: number, layout: SubnetLayout): Promise<void> {
  const version = layout.cidr.version;
  const check = async (field: string, ranges: readonly ValueRange[], reason: string) => {
    const hits = await allocatedIn(tx, id, ranges, BLOCKED_EXAMPLES);
    if (hits.length > 0) throw new ConflictError(field, reason, hits.map((ordinal) => formatAddress(version, ordinal)));
  };
  if (layout.gateway !== null) {
    await check("gateway", [{ first: layout.gateway.value, last: layout.gateway.value }], "the gateway would cover an allocated address");
  }
  await check("reserved", layout.reserved, "reserved ranges would cover allocated addresses");
}

/** How many covered addresses a refusal names. */
const BLOCKED_EXAMPLES = 20;

/** The first allocated addresses (a page) outside the subnet's pools. */
export async function addressesOutsidePools(tx: BoundConnection, id: number, layout: SubnetLayout): Promise<string[]> {
  const outside = subtractRanges([{ first: layout.cidr.first, last: layout.cidr.last }], layout.pools);
  const ordinals = await allocatedIn(tx, id, outside, LIMITS.pageSize);
  return ordinals.map((ordinal) => formatAddress(layout.cidr.version, ordinal));
}

/**
 * Remove a subnet; refused while it has allocations or children. A child's block goes back to
 * its parent (the parent's lock is taken first). Deleting a missing subnet returns false; with a
 * `claim` older than the subnet's latest claimant, nothing changes and `superseded` is true.
 * @throws SubnetInUseError naming the first few allocations or children (`what`)
 */
export async function deleteSubnet(db: StoreDatabase, subnetId: string, options: { claim?: string } = {}): Promise<{ deleted: boolean; superseded?: boolean }> {
  const id = subnetKey(subnetId);
  const { claim } = parseInput(claimOptionsSchema, options);
  const parentId = await db.read("reading a subnet", (tx) => parentOf(tx, id));
  return db.locked(parentId === null ? [id] : [parentId, id], "deleting a subnet", async (tx) => {
    const row = await getSubnetRow(tx, id);
    if (row === null) return { deleted: false };
    // A parent never changes; only a subnet created after the read (snapshot import) can get here.
    if (row.parent_id !== parentId) throw new RetryableDatabaseError("the subnet was replaced while deleting it");
    if (isSuperseded(row.claim, claim)) return { deleted: false, superseded: true };
    const { count, examples } = await countAllocations(tx, id);
    if (count > 0) throw new SubnetInUseError(subnetId, count, examples);
    const children = await countChildren(tx, id);
    if (children.count > 0) throw new SubnetInUseError(subnetId, children.count, children.examples, "child subnet");
    await deleteSubnetRow(tx, id);
    if (parentId !== null) {
      const parent = (await getSubnetRow(tx, parentId))!;
      await releaseChildBlock(tx, { id: parentId, row: parent, layout: layoutOf(parent) }, layoutOf(row).cidr, { id, key: row.idempotency_key });
    }
    return { deleted: true };
  });
}

import { sql } from "slonik";
import { cidrOf, formatAddress, type Cidr } from "../../core/address.js";
import { AddressHeldError, ConflictError, InvalidInputError, OverlapError, PrefixExhaustedError } from "../../core/errors.js";
import { alignDown, blockSize, strictlyInside } from "../../core/prefixBlocks.js";
import { rangesOverlap, type ValueRange } from "../../core/range.js";
import type { ChildStrategy } from "../../core/schemas.js";
import type { SubnetLayout } from "../../core/subnetLayout.js";
import { overlappingChild } from "./childQueries.js";
import { firstFitCandidate, freeBlockHolding, highestAllocatedIn, nextBestFitBlock, rebuildFreeBlocks } from "../space/freeBlocks.js";
import { heldBlockOver, holdChildBlock, returnExpiredHolds } from "../space/holdDown.js";
import { getSubnetRow } from "../rows/subnetQueries.js";
import type { SubnetRow } from "../rows/rowShapes.js";
import { type BoundConnection } from "../database/storeDatabase.js";
import { allocatedIn } from "../rows/allocationQueries.js";

/**
 * Carving child blocks out of a parent and giving them back. Children come from the parent's whole
 * CIDR (AWS IPAM / NetBox style, not only from its allocation pools) minus its gateway, its reserved
 * ranges, its other children and the addresses allocated directly in it. Every function runs inside
 * the parent's advisory lock.
 */

export interface ParentSubnet {
  readonly id: number;
  readonly row: SubnetRow;
  readonly layout: SubnetLayout;
}

export type BlockRequest = { readonly length: number; readonly strategy: ChildStrategy } | { readonly cidr: Cidr };

/** The parts of a parent no child may cover: its gateway and reserved ranges. */
export function keptFromChildren(layout: SubnetLayout): ValueRange[] {
  return [...(layout.gateway === null ? [] : [{ first: layout.gateway.value, last: layout.gateway.value }]), ...layout.reserved];
}

/** Build the parent's free blocks if they are not built (first child operation, or after a gateway/reserved change). */
export async function ensureFreeBlocks(db: BoundConnection, parent: ParentSubnet): Promise<void> {
  if (parent.row.free_blocks_built) return;
  await rebuildFreeBlocks(db, parent.id);
}

/**
 * Choose the block for a new child. Once the child's row is written, takeChildSpace takes it out of
 * the parent's free blocks and free ranges (the database derives both from that row).
 * @throws PrefixExhaustedError when no free block of the length is left; for a specific CIDR,
 *   InvalidInputError (outside the parent, over its gateway or reserved), OverlapError (a sibling),
 *   ConflictError (addresses allocated directly in the parent)
 */
export async function claimChildBlock(db: BoundConnection, given: ParentSubnet, request: BlockRequest): Promise<Cidr> {
  // Expired holds (addresses and child blocks) come back first (return_expired_holds derives them back).
  await returnExpiredHolds(db, given.id);
  const parent = { ...given, row: (await getSubnetRow(db, given.id)) ?? given.row };
  await ensureFreeBlocks(db, parent);
  const { child } =
    "cidr" in request
      ? await claimSpecific(db, parent, request.cidr)
      : request.strategy === "best-fit"
        ? await chooseBestFit(db, parent, request.length)
        : await chooseFirstFit(db, parent, request.length);
  return child;
}

/** A new child (its row written) leaves its parent's free blocks and free ranges (migration 0012). */
export async function takeChildSpace(db: BoundConnection, parentId: number, childId: number): Promise<void> {
  await db.query(sql.unsafe`SELECT ${sql.identifier([db.t.schema, "take_child_space"])}(${parentId}, ${childId})`);
}

/**
 * Lowest aligned free block. A candidate holding an address allocated directly in the parent moves
 * the cursor past that address's block; a children-only parent has none, so it is one probe.
 */
async function chooseFirstFit(db: BoundConnection, parent: ParentSubnet, length: number): Promise<{ block: Cidr; child: Cidr }> {
  const cidr = parent.layout.cidr;
  for (let cursor = cidr.first; cursor <= cidr.last; ) {
    const candidate = await firstFitCandidate(db, parent.id, cidr, length, cursor);
    if (candidate === null) break;
    if (candidate.blocker === null) return candidate;
    cursor = alignDown(cidr.version, candidate.blocker, length) + blockSize(cidr.version, length);
  }
  throw new PrefixExhaustedError(String(parent.id), cidr.text, length);
}

/** Smallest free block that fits (longest prefix), lowest among equals; its lowest clear /length inside. */
async function chooseBestFit(db: BoundConnection, parent: ParentSubnet, length: number): Promise<{ block: Cidr; child: Cidr }> {
  const cidr = parent.layout.cidr;
  const size = blockSize(cidr.version, length);
  for (let block = await nextBestFitBlock(db, parent.id, cidr, length, null); block !== null; block = await nextBestFitBlock(db, parent.id, cidr, length, block)) {
    for (let first = block.first; first + size - 1n <= block.last; ) {
      const child = { first, last: first + size - 1n };
      const blocker = await highestAllocatedIn(db, parent.id, child);
      if (blocker === null) return { block, child: cidrOf(cidr.version, first, length) };
      first = alignDown(cidr.version, blocker, length) + size;
    }
  }
  throw new PrefixExhaustedError(String(parent.id), cidr.text, length);
}

async function claimSpecific(db: BoundConnection, parent: ParentSubnet, wanted: Cidr): Promise<{ block: Cidr; child: Cidr }> {
  const cidr = parent.layout.cidr;
  const label = `subnet ${parent.id} (${cidr.text})`;
  if (!strictlyInside(cidr, wanted)) {
    throw InvalidInputError.of("cidr", `${wanted.text} is not strictly inside its parent ${label}`);
  }
  const block = await freeBlockHolding(db, parent.id, cidr, wanted);
  if (block === null) {
    const sibling = await overlappingChild(db, parent.id, parent.row.namespace, wanted);
    if (sibling !== null) throw new OverlapError(wanted.text, parent.row.namespace, sibling);
    const held = await heldBlockOver(db, parent.id, wanted);
    if (held !== null) throw new AddressHeldError(String(parent.id), `${wanted.text} (released by child ${held.childId}: ${held.cidr})`, held.secondsLeft);
    const layout = parent.layout;
    if (layout.gateway !== null && wanted.first <= layout.gateway.value && layout.gateway.value <= wanted.last) {
      throw InvalidInputError.of("cidr", `${wanted.text} covers the gateway ${layout.gateway.text} of its parent ${label}`);
    }
    const reserved = layout.reserved.find((range) => rangesOverlap(range, wanted));
    throw InvalidInputError.of("cidr", `${wanted.text} is not free in its parent ${label}${reserved === undefined ? "" : ` (it covers reserved ${reserved.text})`}`);
  }
  const held = await allocatedIn(db, parent.id, [wanted], COVERED_EXAMPLES);
  if (held.length > 0) {
    throw new ConflictError("cidr", `${wanted.text} covers addresses allocated directly in its parent ${label}`, held.map((o) => formatAddress(cidr.version, o)));
  }
  return { block, child: wanted };
}

/** How many addresses allocated directly in the parent a refused child names. */
const COVERED_EXAMPLES = 20;

/**
 * A deleted child's block goes back to its parent: merged into the free blocks (when they are
 * built) and, where it is allocatable and free, into its free ranges (unless it is children-only).
 * The database derives both from the parent's data (migration 0012's return_child_space). While the
 * parent has a `releaseHoldSeconds` the block is held first (hold-down, migration 0014): the
 * derivations leave a held block out of both until return_expired_holds gives it back.
 */
export async function releaseChildBlock(db: BoundConnection, parent: ParentSubnet, child: Cidr, released: { id: number; key: string | null }): Promise<void> {
  const holdSeconds = parent.row.release_hold_seconds;
  if (holdSeconds > 0) await holdChildBlock(db, parent.id, child, holdSeconds, released);
  await db.query(sql.unsafe`SELECT ${sql.identifier([db.t.schema, "return_child_space"])}(${parent.id}, ${child.text}::cidr)`);
}

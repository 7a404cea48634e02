import { ADDRESS_BITS, cidrOf, type Cidr, type IpVersion } from "./address.js";
import type { ValueRange } from "./range.js";

/**
 * Buddy-allocator arithmetic on aligned CIDR blocks, as integers. A parent's free space for
 * children is kept as its maximal aligned free blocks: every free aligned block lies inside exactly
 * one of them, so "a free /p" is always "the first /p of a free block of length <= p".
 */

/** Addresses in an aligned block of `prefixLength`. */
export function blockSize(version: IpVersion, prefixLength: number): bigint {
  return 1n << BigInt(ADDRESS_BITS[version] - prefixLength);
}

/** The start of the aligned block of `prefixLength` holding `value`. */
export function alignDown(version: IpVersion, value: bigint, prefixLength: number): bigint {
  const size = blockSize(version, prefixLength);
  return value - (value % size);
}

/** Host bits a block starting at `first` may have: its alignment (all of them at 0). */
function alignmentBits(first: bigint, bits: number): number {
  if (first === 0n) return bits;
  let zeros = 0;
  while (((first >> BigInt(zeros)) & 1n) === 0n && zeros < bits) zeros += 1;
  return zeros;
}

/**
 * A range as its maximal aligned CIDR blocks, lowest first (the fewest blocks that cover it
 * exactly). The blocks of a set of disjoint ranges are the free blocks of a buddy allocator.
 */
export function alignedBlocks(version: IpVersion, range: ValueRange): Cidr[] {
  const bits = ADDRESS_BITS[version];
  const blocks: Cidr[] = [];
  for (let first = range.first; first <= range.last; ) {
    let hostBits = alignmentBits(first, bits);
    while ((1n << BigInt(hostBits)) > range.last - first + 1n) hostBits -= 1;
    blocks.push(cidrOf(version, first, bits - hostBits));
    first += 1n << BigInt(hostBits);
  }
  return blocks;
}

/** Whether `inner` lies inside `outer` (or is it). */
export function blockContains(outer: Cidr, inner: Cidr): boolean {
  return outer.version === inner.version && outer.prefixLength <= inner.prefixLength && inner.first >= outer.first && inner.last <= outer.last;
}

/** Whether `child` lies inside `parent` and is smaller: what a child subnet must be. */
export function strictlyInside(parent: Cidr, child: Cidr): boolean {
  return blockContains(parent, child) && child.prefixLength > parent.prefixLength;
}

/**
 * What stays free of `block` once `taken` (an aligned block inside it) is removed: at every level
 * between them, the buddy of `taken`'s ancestor. These are maximal, since each one's buddy holds `taken`.
 */
export function remainderAfterTaking(block: Cidr, taken: Cidr): Cidr[] {
  if (!blockContains(block, taken)) throw new RangeError(`${taken.text} is not inside ${block.text}`);
  const remainder: Cidr[] = [];
  for (let level = block.prefixLength + 1; level <= taken.prefixLength; level += 1) {
    const size = blockSize(taken.version, level);
    const ancestor = alignDown(taken.version, taken.first, level);
    remainder.push(cidrOf(taken.version, ancestor ^ size, level));
  }
  return remainder.sort((a, b) => (a.first < b.first ? -1 : 1));
}

/**
 * The buddies a returned block may merge with, smallest first: the buddy of `block` itself, then of
 * its parent block, and so on up to (not beyond) a block of `floorPrefixLength`. Merging stops at
 * the first buddy that is not entirely free.
 */
export function buddyChain(block: Cidr, floorPrefixLength: number): Cidr[] {
  const chain: Cidr[] = [];
  for (let level = block.prefixLength; level > floorPrefixLength; level -= 1) {
    const size = blockSize(block.version, level);
    chain.push(cidrOf(block.version, alignDown(block.version, block.first, level) ^ size, level));
  }
  return chain;
}

/** The block of `prefixLength` holding `block` (its ancestor once `levels` buddies have merged in). */
export function enclosingBlock(block: Cidr, prefixLength: number): Cidr {
  return cidrOf(block.version, alignDown(block.version, block.first, prefixLength), prefixLength);
}

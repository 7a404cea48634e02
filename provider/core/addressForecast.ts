import { cidrOf, formatAddress, type Cidr, type IpVersion } from "./address.js";
import { alignDown, blockSize } from "./prefixBlocks.js";
import { rangeContains, rangeSize, subtractRanges, type ValueRange } from "./range.js";

/**
 * What a set of planned changes would do to the address space if it were applied now: the
 * allocator's own rules (lowest free address first, releases going back to the pools or into
 * hold-down, a child block first-fit from the parent's space) replayed over a copy of each subnet's free space. Pure:
 * the caller reads the facts (read-only) and decides the order of the changes; nothing here
 * knows where they came from. Everything it returns is a prediction: another client may take an
 * address between now and the real run.
 */

/** One subnet as it is now (or as a planned new one would start). */
export interface SubnetSpace {
  /** The caller's key (a database id, or a placeholder for a subnet the plan creates). */
  readonly key: string;
  readonly cidr: Cidr;
  /** Free addresses in ascending order: at least the lowest ones the plan can ask for. */
  readonly free: readonly ValueRange[];
  /** How many addresses are free in all (`free` may hold only the lowest ranges). */
  readonly freeTotal: bigint;
  /** Pools minus gateway and reserved: where a released address becomes free again. */
  readonly available: readonly ValueRange[];
  readonly poolSize: bigint;
  readonly allocated: bigint;
  readonly childrenOnly: boolean;
  /** Who holds an address the plan asks for by value (canonical text → holder), as far as read. */
  readonly holders: ReadonlyMap<string, string>;
  /** Space left for child blocks (CIDR minus gateway, reserved, children, own addresses), ascending. */
  readonly childSpace: readonly ValueRange[];
  /**
   * The subnet's releaseHoldSeconds (default 0): a release then puts addresses in hold-down, out of
   * next-free, random and bulk picks, and a specific request gets them only from their releaser.
   */
  readonly holdSeconds?: number;
  /**
   * Live holds on addresses the plan asks for by value (canonical text → releaser and seconds left).
   * Expired holds are not here: the allocator returns them to the free space before its next pick,
   * so the caller counts them in `free` and `freeTotal`.
   */
  readonly holds?: ReadonlyMap<string, AddressHold>;
}

export interface AddressHold {
  readonly owner: string;
  readonly secondsLeft: number;
}

export type PredictedFailure =
  | { readonly code: "SUBNET_EXHAUSTED"; readonly subnet: string; readonly wanted: number; readonly free: string }
  | { readonly code: "ADDRESS_IN_USE"; readonly subnet: string; readonly address: string; readonly holder: string }
  | { readonly code: "ADDRESS_HELD"; readonly subnet: string; readonly address: string; readonly releasedBy: string; readonly secondsLeft: number }
  | { readonly code: "SUBNET_EXHAUSTED"; readonly subnet: string; readonly prefixLength: number }
  | { readonly code: "INVALID_INPUT"; readonly subnet: string; readonly childrenOnly: true };

/** Addresses a take would get: exact ones, or how many random ones. */
export type Taken = { readonly addresses: readonly string[] } | { readonly random: number };

export interface Utilisation {
  readonly key: string;
  readonly cidr: string;
  readonly poolSize: string;
  /** The pool size before an in-place edit changed it. */
  readonly poolSizeBefore: string;
  readonly before: string;
  readonly after: string;
}

interface Working {
  readonly space: SubnetSpace;
  readonly before: bigint;
  free: ValueRange[];
  freeTotal: bigint;
  allocated: bigint;
  childSpace: ValueRange[];
  readonly holders: Map<string, string>;
  readonly holds: Map<string, AddressHold>;
}

export class AddressForecast {
  private readonly subnets = new Map<string, Working>();

  constructor(spaces: Iterable<SubnetSpace>) {
    for (const space of spaces) this.add(space);
  }

  add(space: SubnetSpace): void {
    this.subnets.set(space.key, {
      space,
      before: space.poolSize,
      free: [...space.free],
      freeTotal: space.freeTotal,
      allocated: space.allocated,
      childSpace: [...space.childSpace],
      holders: new Map(space.holders),
      holds: new Map(space.holds ?? []),
    });
  }

  /** An in-place edit of pools, gateway or reserved: new free space and pools, the same allocations. */
  reshape(key: string, free: readonly ValueRange[], available: readonly ValueRange[]): void {
    const s = this.working(key);
    const poolSize = available.reduce((sum, range) => sum + rangeSize(range), 0n);
    this.subnets.set(key, { ...s, space: { ...s.space, available, poolSize }, free: [...free], freeTotal: free.reduce((sum, range) => sum + rangeSize(range), 0n) });
  }

  has(key: string): boolean {
    return this.subnets.has(key);
  }

  cidrOf(key: string): Cidr | undefined {
    return this.subnets.get(key)?.space.cidr;
  }

  /** The lowest `count` free addresses (sequential), or `count` random ones; a failure when they are not there. */
  take(key: string, count: number, strategy: "sequential" | "random", holder: string): Taken | PredictedFailure {
    const s = this.working(key);
    if (s.space.childrenOnly) return { code: "INVALID_INPUT", subnet: s.space.cidr.text, childrenOnly: true };
    if (BigInt(count) > s.freeTotal) return { code: "SUBNET_EXHAUSTED", subnet: s.space.cidr.text, wanted: count, free: s.freeTotal.toString() };
    s.freeTotal -= BigInt(count);
    s.allocated += BigInt(count);
    if (strategy === "random") return { random: count };
    const values: bigint[] = [];
    while (values.length < count && s.free.length > 0) {
      const range = s.free[0]!;
      values.push(range.first);
      if (range.first === range.last) s.free.shift();
      else s.free[0] = { first: range.first + 1n, last: range.last };
    }
    const addresses = values.map((v) => formatAddress(s.space.cidr.version, v));
    for (const address of addresses) s.holders.set(address, holder);
    // `free` held only the lowest ranges (freeTotal says there are more): beyond them nothing is predicted.
    return { addresses };
  }

  /**
   * A specific address: a failure when someone holds it (the plan's own earlier takes included), or
   * when it is in hold-down for another owner; its releaser takes it back (the allocator's takeHeldBack).
   */
  takeSpecific(key: string, address: { value: bigint; text: string }, holder: string): Taken | PredictedFailure {
    const s = this.working(key);
    if (s.space.childrenOnly) return { code: "INVALID_INPUT", subnet: s.space.cidr.text, childrenOnly: true };
    const current = s.holders.get(address.text);
    if (current !== undefined) return { code: "ADDRESS_IN_USE", subnet: s.space.cidr.text, address: address.text, holder: current };
    const hold = s.holds.get(address.text);
    if (hold !== undefined && hold.owner !== holder) {
      return { code: "ADDRESS_HELD", subnet: s.space.cidr.text, address: address.text, releasedBy: hold.owner, secondsLeft: hold.secondsLeft };
    }
    s.holds.delete(address.text);
    s.holders.set(address.text, holder);
    s.allocated += 1n;
    if (this.removeFree(s, address.value)) s.freeTotal -= 1n;
    return { addresses: [address.text] };
  }

  /**
   * Addresses given back where the pools cover them (the store's releaseOrHold): free again, or, when
   * the subnet has a hold-down, held for `owner` (the releasing allocation's), out of every pick.
   */
  release(key: string, addresses: readonly { value: bigint; text: string }[], owner: string): void {
    const s = this.subnets.get(key);
    if (s === undefined) return;
    const holdSeconds = s.space.holdSeconds ?? 0;
    for (const address of addresses) {
      const releaser = s.holders.get(address.text) ?? owner;
      s.holders.delete(address.text);
      s.allocated -= 1n;
      if (!s.space.available.some((range) => rangeContains(range, address.value))) continue;
      if (holdSeconds > 0) {
        s.holds.set(address.text, { owner: releaser, secondsLeft: holdSeconds });
      } else {
        this.insertFree(s, address.value);
        s.freeTotal += 1n;
      }
    }
  }

  /** A child block: the lowest aligned block of `prefixLength` in the parent's child space (first-fit). */
  carve(key: string, prefixLength: number): Cidr | PredictedFailure {
    const s = this.working(key);
    const version = s.space.cidr.version;
    for (const range of s.childSpace) {
      const block = firstAlignedBlock(version, range, prefixLength);
      if (block === null) continue;
      s.childSpace = subtractRanges(s.childSpace, [block]);
      return block;
    }
    return { code: "SUBNET_EXHAUSTED", subnet: s.space.cidr.text, prefixLength };
  }

  /** A specific child CIDR: a failure when it is not wholly inside the parent's child space. */
  carveSpecific(key: string, child: Cidr): Cidr | PredictedFailure {
    const s = this.working(key);
    const inside = s.childSpace.some((range) => range.first <= child.first && child.last <= range.last);
    if (!inside) return { code: "SUBNET_EXHAUSTED", subnet: s.space.cidr.text, prefixLength: child.prefixLength };
    s.childSpace = subtractRanges(s.childSpace, [child]);
    return child;
  }

  utilisation(): Utilisation[] {
    return [...this.subnets.values()].map((s) => ({
      key: s.space.key,
      cidr: s.space.cidr.text,
      poolSize: s.space.poolSize.toString(),
      poolSizeBefore: s.before.toString(),
      before: s.space.allocated.toString(),
      after: s.allocated.toString(),
    }));
  }

  private working(key: string): Working {
    const s = this.subnets.get(key);
    if (s === undefined) throw new Error(`no facts for subnet ${key}`);
    return s;
  }

  private removeFree(s: Working, value: bigint): boolean {
    const index = s.free.findIndex((range) => rangeContains(range, value));
    if (index < 0) return false;
    const range = s.free[index]!;
    const parts = subtractRanges([range], [{ first: value, last: value }]);
    s.free.splice(index, 1, ...parts);
    return true;
  }

  private insertFree(s: Working, value: bigint): void {
    // Binary search for the first range starting above the value; merge with neighbours.
    let lo = 0;
    let hi = s.free.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (s.free[mid]!.first > value) hi = mid;
      else lo = mid + 1;
    }
    const before = s.free[lo - 1];
    if (before !== undefined && before.last >= value) return;
    const after = s.free[lo];
    const joinsBefore = before !== undefined && before.last + 1n === value;
    const joinsAfter = after !== undefined && after.first - 1n === value;
    if (joinsBefore && joinsAfter) s.free.splice(lo - 1, 2, { first: before.first, last: after.last });
    else if (joinsBefore) s.free[lo - 1] = { first: before.first, last: value };
    else if (joinsAfter) s.free[lo] = { first: value, last: after.last };
    else s.free.splice(lo, 0, { first: value, last: value });
  }
}

/** The lowest block of `prefixLength` aligned on its size that lies wholly inside `range`, or null. */
export function firstAlignedBlock(version: IpVersion, range: ValueRange, prefixLength: number): Cidr | null {
  const size = blockSize(version, prefixLength);
  if (rangeSize(range) < size) return null;
  const aligned = alignDown(version, range.first, prefixLength);
  const first = aligned === range.first ? aligned : aligned + size;
  return first + size - 1n <= range.last ? cidrOf(version, first, prefixLength) : null;
}

export function isPredictedFailure(value: unknown): value is PredictedFailure {
  return typeof value === "object" && value !== null && "code" in value;
}

import type { ValueRange } from "./range.js";

/**
 * Items that each cover a range of address values, sorted once so that the item holding a value
 * is found by binary search: O(log n) per lookup instead of a scan of every item (snapshot
 * validation scanned 16k child subnets for each of 65,536 addresses: 10.6 s, issue 22 item 7).
 * The ranges are expected not to overlap; where they do, a lookup finds one of those that start
 * at or below the value and may miss another (callers report overlaps separately).
 */
export class SortedRanges<T> {
  private readonly items: readonly T[];
  private readonly firsts: readonly bigint[];
  private readonly lasts: readonly bigint[];

  constructor(items: Iterable<T>, rangeOf: (item: T) => ValueRange) {
    const sorted = [...items].map((item) => ({ item, range: rangeOf(item) }));
    sorted.sort((a, b) => (a.range.first < b.range.first ? -1 : a.range.first > b.range.first ? 1 : 0));
    this.items = sorted.map((entry) => entry.item);
    this.firsts = sorted.map((entry) => entry.range.first);
    this.lasts = sorted.map((entry) => entry.range.last);
  }

  /** Every item, in start order. */
  all(): readonly T[] {
    return this.items;
  }

  /** The item whose range contains `value`, if any. */
  find(value: bigint): T | undefined {
    // The last item starting at or below the value is the only one that can contain it.
    let low = 0;
    let high = this.firsts.length - 1;
    let candidate = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.firsts[middle]! <= value) {
        candidate = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return candidate >= 0 && value <= this.lasts[candidate]! ? this.items[candidate] : undefined;
  }

  /** The first item (in start order) that starts within [from, to], if any. */
  firstStartingIn(from: bigint, to: bigint): T | undefined {
    let low = 0;
    let high = this.firsts.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.firsts[middle]! < from) low = middle + 1;
      else high = middle;
    }
    return low < this.firsts.length && this.firsts[low]! <= to ? this.items[low] : undefined;
  }
}

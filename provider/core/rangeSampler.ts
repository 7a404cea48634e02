import { randomBelow } from "./randomChoice.js";
import { rangeSize, type ValueRange } from "./range.js";

/**
 * Uniform CSPRNG draws over a set of disjoint ranges, and which range holds a value. Prefix sums of
 * the sizes plus binary search: building costs O(n), each draw or lookup O(log n), so a bulk pick of
 * `count` addresses over n ranges costs O(n + count × log n), never count × n.
 */
export class RangeSampler {
  readonly ranges: readonly ValueRange[];
  /** ends[i]: how many values ranges[0..i] hold together. */
  private readonly ends: bigint[];
  readonly size: bigint;

  /** @param ranges disjoint and ascending (as the free-range index and a layout's `available` are) */
  constructor(ranges: readonly ValueRange[]) {
    this.ranges = ranges;
    let total = 0n;
    this.ends = ranges.map((range) => (total += rangeSize(range)));
    this.size = total;
  }

  /** A uniform value from the ranges, with the range it lies in. @throws RangeError when empty */
  draw(): { value: bigint; range: ValueRange } {
    const index = randomBelow(this.size);
    // The first range whose end exceeds the index holds it.
    let lo = 0;
    let hi = this.ends.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ends[mid]! > index) hi = mid;
      else lo = mid + 1;
    }
    const range = this.ranges[lo]!;
    const before = lo === 0 ? 0n : this.ends[lo - 1]!;
    return { value: range.first + (index - before), range };
  }
}

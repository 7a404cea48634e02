import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { normalizeRanges, runsOf, subtractRanges, totalSize, type ValueRange } from "../../provider/core/range.js";

const expand = (ranges: readonly ValueRange[]) => ranges.flatMap((r) => Array.from({ length: Number(r.last - r.first + 1n) }, (_, i) => r.first + BigInt(i)));
const rangeArb = fc.tuple(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 8 })).map(([start, length]) => ({ first: BigInt(start), last: BigInt(start + length) }));

describe("range algebra", () => {
  it("subtractRanges equals set difference and stays normalized", () => {
    fc.assert(
      fc.property(fc.array(rangeArb, { maxLength: 12 }), fc.array(rangeArb, { maxLength: 12 }), (from, holes) => {
        const result = subtractRanges(from, holes);
        const expected = [...new Set(expand(from))].filter((v) => !expand(holes).includes(v)).sort((a, b) => Number(a - b));
        expect(expand(result)).toEqual(expected);
        expect(normalizeRanges(result)).toEqual(result);
      }),
    );
  });

  it("runsOf groups consecutive values and totals them", () => {
    expect(runsOf([5n, 3n, 4n, 9n, 9n])).toEqual([{ first: 3n, last: 5n }, { first: 9n, last: 9n }]);
    expect(totalSize(runsOf([5n, 3n, 4n, 9n]))).toBe(4n);
  });
});

import { describe, expect, it } from "vitest";
import { randomBelow } from "../../provider/core/randomChoice.js";
import { RangeSampler } from "../../provider/core/rangeSampler.js";

describe("randomBelow", () => {
  it("stays in range for small and IPv6-sized bounds", () => {
    for (const bound of [1n, 2n, 7n, 2n ** 48n, 2n ** 48n + 1n, 2n ** 64n, 2n ** 128n - 3n]) {
      for (let i = 0; i < 200; i += 1) {
        const value = randomBelow(bound);
        expect(value >= 0n && value < bound).toBe(true);
      }
    }
  });

  it("is uniform: every bucket of a bound above 2^48 is hit about equally", () => {
    // Bound = 3 * 2^62: rejection sampling must not favour the low third.
    const bound = 3n * 2n ** 62n;
    const counts = [0, 0, 0];
    const samples = 30_000;
    for (let i = 0; i < samples; i += 1) counts[Number(randomBelow(bound) / 2n ** 62n)]! += 1;
    // Expected 10,000 each, sd ~82; 600 is over 7 sd, so this fails only if the draw is biased.
    for (const count of counts) expect(Math.abs(count - samples / 3)).toBeLessThan(600);
  });

  it("refuses a non-positive bound", () => {
    expect(() => randomBelow(0n)).toThrow(RangeError);
  });
});

describe("RangeSampler", () => {
  it("draws every value of unevenly sized ranges equally often, and names the range it lies in", () => {
    // 1 + 3 + 6 = 10 values: each expected 3,000 times in 30,000 draws (sd ~52; 400 is over 7 sd).
    const ranges = [
      { first: 5n, last: 5n },
      { first: 10n, last: 12n },
      { first: 2n ** 64n, last: 2n ** 64n + 5n },
    ];
    const sampler = new RangeSampler(ranges);
    expect(sampler.size).toBe(10n);
    const counts = new Map<bigint, number>();
    for (let i = 0; i < 30_000; i += 1) {
      const { value, range } = sampler.draw();
      expect(value >= range.first && value <= range.last && ranges.includes(range)).toBe(true);
      counts.set(value, (counts.get(value) ?? 0) + 1);
    }
    expect(counts.size).toBe(10);
    for (const count of counts.values()) expect(Math.abs(count - 3_000)).toBeLessThan(400);
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { IntegerMap } from "../../provider/core/integerMap.js";

describe("IntegerMap (compact index of the streamed snapshot check, issue 25)", () => {
  it("answers as a Map for any sequence of sets, across growth, keys that differ only above bit 32, and 0", () => {
    const key = fc.oneof(fc.nat({ max: 40 }), fc.integer({ min: 0, max: 2 ** 53 - 1 }), fc.nat({ max: 5 }).map((n) => n * 2 ** 32 + 7));
    fc.assert(
      fc.property(fc.array(fc.tuple(key, fc.nat({ max: 2 ** 31 - 1 })), { maxLength: 400 }), fc.array(key, { maxLength: 50 }), (sets, probes) => {
        const map = new IntegerMap();
        const model = new Map<number, number>();
        for (const [k, v] of sets) {
          map.set(k, v);
          model.set(k, v);
        }
        expect(map.size).toBe(model.size);
        for (const k of [...model.keys(), ...probes]) {
          expect(map.has(k)).toBe(model.has(k));
          expect(map.get(k)).toBe(model.get(k) ?? -1);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("holds a million keys and refuses what it cannot hold exactly", () => {
    const map = new IntegerMap();
    for (let i = 0; i < 1_000_000; i += 1) map.set(i * 4294967296 + 167772160 + (i % 977), i);
    expect(map.size).toBe(1_000_000);
    expect(map.get(999_999 * 4294967296 + 167772160 + (999_999 % 977))).toBe(999_999);
    expect(map.has(1_000_000 * 4294967296)).toBe(false);
    expect(() => map.set(-1, 0)).toThrow(RangeError);
    expect(() => map.set(2 ** 53, 0)).toThrow(RangeError);
    expect(() => map.set(1.5, 0)).toThrow(RangeError);
  });
});

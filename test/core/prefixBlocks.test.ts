import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { IPv4, IPv4CidrRange, IPv6, IPv6CidrRange, RangedSet } from "ip-num";
import { cidrOf, parseCidr, type Cidr } from "../../provider/core/address.js";
import { alignedBlocks, blockContains, buddyChain, enclosingBlock, remainderAfterTaking } from "../../provider/core/prefixBlocks.js";
import { normalizeRanges, subtractRanges, totalSize } from "../../provider/core/range.js";

/** What ip-num says a CIDR text covers, independent of our arithmetic. */
function ipNumBounds(block: Cidr): { first: bigint; last: bigint } {
  const range = block.version === 4 ? IPv4CidrRange.fromCidr(block.text) : IPv6CidrRange.fromCidr(block.text);
  return { first: range.getFirst().getValue(), last: range.getLast().getValue() };
}

/** ip-num's own verdict on whether an integer range is exactly one CIDR block. */
function ipNumIsCidr(version: 4 | 6, first: bigint, last: bigint): boolean {
  return version === 4 ? new RangedSet(new IPv4(first), new IPv4(last)).isCidrAble() : new RangedSet(new IPv6(first), new IPv6(last)).isCidrAble();
}

const v4Range = fc.tuple(fc.bigInt({ min: 0n, max: 2n ** 32n - 1n }), fc.bigInt({ min: 0n, max: 2n ** 32n - 1n })).map(([a, b]) => (a <= b ? { first: a, last: b } : { first: b, last: a }));
const v6Range = fc
  .tuple(fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }), fc.bigInt({ min: 0n, max: 2n ** 20n }))
  .filter(([a, span]) => a + span <= 2n ** 128n - 1n)
  .map(([a, span]) => ({ first: a, last: a + span }));

describe("aligned blocks (buddy decomposition)", () => {
  it.each([
    [4, v4Range],
    [6, v6Range],
  ] as const)("IPv%i: blocks are CIDRs per ip-num, tile the range exactly, and no two could merge", (version, arb) => {
    fc.assert(
      fc.property(arb, (range) => {
        const blocks = alignedBlocks(version, range);
        for (const block of blocks) {
          expect(ipNumBounds(block)).toEqual({ first: block.first, last: block.last });
          expect(ipNumIsCidr(version, block.first, block.last)).toBe(true);
        }
        expect(normalizeRanges(blocks.map(({ first, last }) => ({ first, last })))).toEqual([range]);
        expect(totalSize(blocks)).toBe(range.last - range.first + 1n);
        // Maximal: two neighbours that are buddies would form one bigger aligned block.
        for (let i = 1; i < blocks.length; i += 1) {
          const [a, b] = [blocks[i - 1]!, blocks[i]!];
          const mergeable = a.prefixLength === b.prefixLength && ipNumIsCidr(version, a.first, b.last);
          expect(mergeable).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("a whole CIDR is one block; a gateway hole splits a /16 into one block per level", () => {
    expect(alignedBlocks(4, parseCidr("10.0.0.0/16", "c")).map((b) => b.text)).toEqual(["10.0.0.0/16"]);
    const parent = parseCidr("10.0.0.0/16", "c");
    const around = subtractRanges([parent], [{ first: parent.first + 1n, last: parent.first + 1n }]);
    expect(around.flatMap((r) => alignedBlocks(4, r)).map((b) => b.text)).toEqual([
      "10.0.0.0/32", "10.0.0.2/31", "10.0.0.4/30", "10.0.0.8/29", "10.0.0.16/28", "10.0.0.32/27", "10.0.0.64/26",
      "10.0.0.128/25", "10.0.1.0/24", "10.0.2.0/23", "10.0.4.0/22", "10.0.8.0/21", "10.0.16.0/20", "10.0.32.0/19",
      "10.0.64.0/18", "10.0.128.0/17",
    ]);
  });
});

describe("split and merge", () => {
  const v4Block = fc.integer({ min: 8, max: 30 }).chain((length) =>
    fc.tuple(fc.bigInt({ min: 0n, max: 2n ** BigInt(length) - 1n }), fc.integer({ min: length, max: 32 }), fc.bigInt({ min: 0n, max: 2n ** 32n - 1n })).map(
      ([index, childLength, offset]) => {
        const block = cidrOf(4, index << BigInt(32 - length), length);
        const size = 1n << BigInt(32 - childLength);
        const child = cidrOf(4, block.first + ((offset % block.size) / size) * size, childLength);
        return { block, child };
      },
    ),
  );

  it("taking a child out of a block leaves maximal buddies that tile the rest", () => {
    fc.assert(
      fc.property(v4Block, ({ block, child }) => {
        expect(blockContains(block, child)).toBe(true);
        const rest = remainderAfterTaking(block, child);
        expect(normalizeRanges([...rest, child].map(({ first, last }) => ({ first, last })))).toEqual([{ first: block.first, last: block.last }]);
        expect(rest.every((b) => ipNumIsCidr(4, b.first, b.last) && !blockContains(b, child) && !blockContains(child, b))).toBe(true);
        expect(totalSize(rest) + child.size).toBe(block.size);
        // Giving the child back merges the whole chain: every buddy on the way up is free again.
        const chain = buddyChain(child, block.prefixLength);
        expect(chain.map((b) => b.text).sort()).toEqual(rest.map((b) => b.text).sort());
        expect(enclosingBlock(child, child.prefixLength - chain.length).text).toBe(block.text);
      }),
      { numRuns: 300 },
    );
  });

  it("buddies of 10.0.1.0/24 up to a /22, smallest first", () => {
    expect(buddyChain(parseCidr("10.0.1.0/24", "c"), 22).map((b) => b.text)).toEqual(["10.0.0.0/24", "10.0.2.0/23"]);
    expect(buddyChain(parseCidr("2001:db8:0:3::/64", "c"), 62).map((b) => b.text)).toEqual(["2001:db8:0:2::/64", "2001:db8::/63"]);
  });
});

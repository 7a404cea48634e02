import fc from "fast-check";
import { IPv4, IPv6 } from "ip-num";
import { describe, expect, it } from "vitest";
import { formatAddress } from "../../provider/core/address.js";

/** What formatAddress returned before it kept ip-num's text per base: ip-num's whole text, IPv6 through the URL serializer. */
const ipNumText = (version: 4 | 6, value: bigint) => (version === 4 ? new IPv4(value).toString() : new URL(`http://[${new IPv6(value).toString()}]/`).hostname.slice(1, -1));

const MAX = { 4: (1n << 32n) - 1n, 6: (1n << 128n) - 1n } as const;

describe("formatAddress keeps ip-num's text of each base (issue 22 item 7)", () => {
  it("gives ip-num's text for any address, IPv4 and IPv6", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: MAX[6] }), fc.bigInt({ min: 0n, max: MAX[4] }), (v6, v4) => {
        expect(formatAddress(6, v6)).toBe(ipNumText(6, v6));
        expect(formatAddress(4, v4)).toBe(ipNumText(4, v4));
      }),
      { numRuns: 2_000 },
    );
  });

  it("gives ip-num's text across runs of consecutive addresses, group boundaries and zero groups (where the text compresses)", () => {
    const starts = [0n, 0xfff0n, 0xffff_0000n - 8n, 0xffff_0000_0000n - 8n, (1n << 64n) - 8n, 0x2001_0db8_0000_0000_0000_0000_0000_fff0n, 0x2001_0db8_0000_ffff_0000_0000_0001_0000n, MAX[6] - 16n];
    for (const start of starts) {
      for (let value = start; value <= start + 16n && value <= MAX[6]; value += 1n) expect(formatAddress(6, value)).toBe(ipNumText(6, value));
    }
    for (const start of [0n, 0xffn - 4n, 0x0a00_00ffn - 4n, 0xc0a8_ffffn - 4n, MAX[4] - 8n]) {
      for (let value = start; value <= start + 8n && value <= MAX[4]; value += 1n) expect(formatAddress(4, value)).toBe(ipNumText(4, value));
    }
  });

  it("stays right past the cache's bound (more bases than it keeps) and with IPv4 and IPv6 values that are equal as numbers", () => {
    for (let base = 0n; base < 5_000n; base += 1n) {
      const value = (0x2001_0db8n << 96n) + (base << 16n) + 1n;
      expect(formatAddress(6, value)).toBe(ipNumText(6, value));
    }
    for (const value of [0n, 1n, 0x100n, 0x0a00_0001n]) {
      expect(formatAddress(4, value)).toBe(ipNumText(4, value));
      expect(formatAddress(6, value)).toBe(ipNumText(6, value));
      expect(formatAddress(4, value)).toBe(ipNumText(4, value));
    }
  });
});

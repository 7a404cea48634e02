import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatAddress, parseAddress, parseSubnetCidr } from "../../provider/core/address.js";
import { InvalidInputError } from "../../provider/core/errors.js";
import { useTestIpam } from "../helpers/openTestIpam.js";

// Issue 13 item 8: `::/80` was accepted, so the allocator could hand out ::ffff:a.b.c.d addresses
// that every other call refuses (release by address, history, import of the export).
const source = useTestIpam("mappedrange");

const AROUND_MAPPED = ["::/80", "::/64", "::/48", "::/16"];
const OUTSIDE = ["::1:0:0:0/80", "64:ff9b::/96", "2001:db8::/64", "::/96", "::1:0:0/96"];

async function refusal(run: () => Promise<unknown>): Promise<InvalidInputError> {
  const error = await run().then(
    (value) => new Error(`accepted: ${JSON.stringify(value)}`),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidInputError);
  return error as InvalidInputError;
}

describe("a subnet may not contain addresses the API refuses (IPv4-mapped IPv6)", () => {
  it.each(AROUND_MAPPED)("createSubnet %s → INVALID_INPUT naming cidr and the mapped range; nothing stored", async (cidr) => {
    const error = await refusal(() => source.ipam.createSubnet({ cidr, namespace: "mapped" }));
    expect(error.issues).toEqual([{ field: "cidr", reason: expect.stringContaining("::ffff:0:0/96") }]);
    expect(await source.ipam.listSubnets({ namespace: "mapped" })).toEqual([]);
  });

  it("an import holding such a subnet is refused the same way, naming the record", async () => {
    const snapshot = await source.ipam.exportSnapshot({ namespace: "mapped" });
    const forged = { ...snapshot, subnets: [{ id: "900", cidr: "::/80", namespace: "mapped", parentId: null, gateway: null, allocationPools: [], reserved: [], description: "", tags: {} }] };
    const error = await refusal(() => source.ipam.importSnapshot(forged));
    expect(error.issues.map((issue) => issue.field)).toContain("subnets.0.cidr");
    expect(await source.ipam.listSubnets({ namespace: "mapped" })).toEqual([]);
  });

  it.each(OUTSIDE)("%s (beside the mapped range) is still accepted and hands out addresses the API takes back", async (cidr) => {
    const subnet = await source.ipam.createSubnet({ cidr, namespace: "outside" });
    const { allocation } = await source.ipam.allocate({ subnetId: subnet.id, owner: "o", strategy: "random", count: 16 });
    for (const address of allocation.addresses) expect((await source.ipam.whoHolds(subnet.id, address))?.id).toBe(allocation.id);
  });

  it("property: every address of every CIDR accepted for a subnet is an address parseAddress accepts", () => {
    const MAPPED_FIRST = 0xffff_0000_0000n;
    const MAPPED_LAST = 0xffff_ffff_ffffn;
    // Networks near the mapped range (high 80 bits zero) are drawn often, anywhere else too.
    const value = fc.oneof(fc.bigInt({ min: 0n, max: (1n << 48n) - 1n }), fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }));
    fc.assert(
      fc.property(value, fc.integer({ min: 16, max: 128 }), (raw, prefixLength) => {
        const hostBits = BigInt(128 - prefixLength);
        const network = (raw >> hostBits) << hostBits;
        let cidr;
        try {
          cidr = parseSubnetCidr(`${formatAddress(6, network)}/${prefixLength}`, "cidr");
        } catch (error) {
          if (error instanceof InvalidInputError) return;
          throw error;
        }
        const clamp = (v: bigint) => (v < cidr.first ? cidr.first : v > cidr.last ? cidr.last : v);
        for (const point of [cidr.first, cidr.last, clamp(MAPPED_FIRST), clamp(MAPPED_LAST)]) parseAddress(formatAddress(6, point), "address");
      }),
      { numRuns: 2_000 },
    );
  });
});

import { describe, expect, it } from "vitest";
import { SortedRanges } from "../../provider/core/sortedRanges.js";
import { SNAPSHOT_FORMAT, validatedSnapshot, validateSnapshot } from "../../provider/core/snapshot.js";

const subnet = (id: string, cidr: string, parentId: string | null = null) => ({
  id, namespace: "n", parentId, cidr, gateway: null, allocationPools: null, reserved: [], description: "", tags: {},
});
const allocation = (id: string, subnetId: string, addresses: string[]) => ({
  id, subnetId, owner: "o", idempotencyKey: null, strategy: "sequential", addresses, description: "", tags: {},
});
const fieldsOf = (input: unknown) => {
  try {
    validateSnapshot(input);
    return [];
  } catch (error) {
    return (error as { issues: { field: string; reason: string }[] }).issues.map((issue) => `${issue.field}: ${issue.reason}`);
  }
};

describe("SortedRanges", () => {
  const ranges = new SortedRanges(
    [
      { name: "c", first: 40n, last: 49n },
      { name: "a", first: 0n, last: 9n },
      { name: "b", first: 20n, last: 20n },
    ],
    (item) => item,
  );
  it.each([
    [0n, "a"], [9n, "a"], [10n, undefined], [19n, undefined], [20n, "b"], [21n, undefined], [40n, "c"], [49n, "c"], [50n, undefined], [-1n, undefined],
  ])("finds the range holding %s: %s", (value, name) => {
    expect(ranges.find(value)?.name).toBe(name);
  });
  it("finds nothing in an empty set", () => {
    expect(new SortedRanges([], (item: { first: bigint; last: bigint }) => item).find(5n)).toBeUndefined();
  });
});

describe("validateSnapshot: addresses inside child subnets (indexed lookup, issue 22 item 7)", () => {
  // 64 /28 children of a /16, given out of order; the parent's allocation touches each child's edges and the gaps between them.
  const children = Array.from({ length: 64 }, (_, i) => subnet(String(100 + i), `10.0.${(i * 37) % 64}.0/28`, "1"));
  const file = (addresses: string[]) => ({ format: SNAPSHOT_FORMAT, subnets: [subnet("1", "10.0.0.0/16"), ...children], allocations: [allocation("1", "1", addresses)] });

  it("refuses each address at a child's first or last address, naming the child", () => {
    const issues = fieldsOf(file(["10.0.5.0", "10.0.5.15", "10.0.63.15"]));
    expect(issues).toHaveLength(3);
    const childOf = (third: number) => children.find((child) => child.cidr === `10.0.${third}.0/28`)!.id;
    expect(issues[0]).toBe(`allocations.0.addresses.0: 10.0.5.0 is inside child subnet ${childOf(5)} (10.0.5.0/28)`);
    expect(issues[1]).toBe(`allocations.0.addresses.1: 10.0.5.15 is inside child subnet ${childOf(5)} (10.0.5.0/28)`);
    expect(issues[2]).toContain("allocations.0.addresses.2: 10.0.63.15 is inside child subnet");
    // 10.0.0.0 is the parent's network address: refused for that, before any child is looked up.
    expect(fieldsOf(file(["10.0.0.0"]))[0]).toContain("network address");
  });

  it("accepts addresses just outside every child", () => {
    expect(fieldsOf(file(["10.0.5.16", "10.0.4.255", "10.0.63.16", "10.0.64.0", "10.0.200.1"]))).toEqual([]);
  });

  it("finds duplicates per subnet, not across subnets", () => {
    const twoSubnets = {
      format: SNAPSHOT_FORMAT,
      subnets: [subnet("1", "10.0.0.0/24"), subnet("2", "10.1.0.0/24")],
      allocations: [allocation("1", "1", ["10.0.0.5"]), allocation("2", "2", ["10.1.0.5"]), allocation("3", "1", ["10.0.0.5"])],
    };
    expect(fieldsOf(twoSubnets)).toEqual(["allocations.2.addresses.0: 10.0.0.5 is also held by allocation 1"]);
  });
});

describe("validatedSnapshot: validated once (issue 22 item 7)", () => {
  const input = { format: SNAPSHOT_FORMAT, subnets: [subnet("1", "10.0.0.0/24")], allocations: [allocation("1", "1", ["10.0.0.7"])] };
  it("takes validateSnapshot's own result as it is", () => {
    const valid = validateSnapshot(input);
    expect(validatedSnapshot(valid)).toBe(valid);
  });
  it("validates raw input and look-alikes of a result", () => {
    expect(validatedSnapshot(input).allocations[0]!.addresses[0]!.text).toBe("10.0.0.7");
    const forged = { subnets: [], allocations: [{ record: allocation("1", "9", ["10.0.0.1"]), addresses: [] }] };
    expect(() => validatedSnapshot(forged)).toThrow(/format/);
  });
});

describe("validateSnapshot: duplicates among addresses that share their low 64 bits", () => {
  // ::1 in each /64 of a /48: equal low halves (a Map keyed by BigInt value hashed them all alike).
  const addresses = Array.from({ length: 2_048 }, (_, i) => `2001:db8:0:${(i + 1).toString(16)}::1`);
  it("accepts them all when each is held once", () => {
    const valid = validateSnapshot({ format: SNAPSHOT_FORMAT, subnets: [subnet("1", "2001:db8::/48")], allocations: addresses.map((address, i) => allocation(String(i + 1), "1", [address])) });
    expect(valid.allocations.map((a) => a.addresses[0]!.text)).toEqual(addresses);
  });
  it("finds the one held twice, written another way, and names the first holder", () => {
    const allocations = [...addresses.map((address, i) => allocation(String(i + 1), "1", [address])), allocation("9999", "1", ["2001:DB8:0:7FF:0:0:0:1"])];
    expect(fieldsOf({ format: SNAPSHOT_FORMAT, subnets: [subnet("1", "2001:db8::/48")], allocations })).toEqual([
      "allocations.2048.addresses.0: 2001:db8:0:7ff::1 is also held by allocation 2047",
    ]);
  });
  it("finds a hold-down entry held twice among them", () => {
    const held = (address: string) => ({ address, heldUntil: "2099-01-01T00:00:00.000Z", owner: "o", allocationId: "5" });
    const holder = { ...subnet("1", "2001:db8::/48"), heldAddresses: [...addresses.slice(0, 64).map(held), held("2001:db8:0:3f:0::1")] };
    expect(fieldsOf({ format: SNAPSHOT_FORMAT, subnets: [holder], allocations: [] })).toEqual(["subnets.0.heldAddresses.64.address: 2001:db8:0:3f::1 is held twice"]);
  });
});

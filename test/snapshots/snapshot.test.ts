import { describe, expect, it } from "vitest";
import { SNAPSHOT_FORMAT, validateSnapshot } from "../../provider/core/snapshot.js";

const subnet = (fields: Record<string, unknown> = {}) => ({
  id: "1", namespace: "n", parentId: null, cidr: "10.0.0.0/24", gateway: "10.0.0.1", allocationPools: null, reserved: [], description: "", tags: {}, ...fields,
});
const allocation = (fields: Record<string, unknown> = {}) => ({
  id: "1", subnetId: "1", owner: "o", idempotencyKey: null, strategy: "sequential", addresses: ["10.0.0.2"], description: "", tags: {}, ...fields,
});
const issues = (input: unknown) => {
  try {
    validateSnapshot(input);
    return [];
  } catch (error) {
    return (error as { issues: { field: string; reason: string }[] }).issues;
  }
};

describe("validateSnapshot", () => {
  it("accepts a valid file, canonicalizes and sorts addresses, puts parents first", () => {
    const valid = validateSnapshot({
      format: SNAPSHOT_FORMAT,
      subnets: [subnet({ id: "2", parentId: "1", cidr: "10.0.0.128/25", gateway: null }), subnet()],
      allocations: [allocation({ addresses: ["10.0.0.9", "10.0.0.3"] }), allocation({ id: "2", subnetId: "2", strategy: "specific", addresses: ["10.0.0.130"] })],
    });
    expect(valid.subnets.map((s) => s.record.id)).toEqual(["1", "2"]);
    expect(valid.allocations[0]!.addresses.map((a) => a.text)).toEqual(["10.0.0.3", "10.0.0.9"]);
  });

  it.each([
    ["format", { format: "v0", subnets: [], allocations: [] }, "format"],
    ["missing arrays", { format: SNAPSHOT_FORMAT }, "subnets"],
    ["duplicate subnet id", { format: SNAPSHOT_FORMAT, subnets: [subnet(), subnet({ cidr: "10.1.0.0/24", gateway: null })], allocations: [] }, "subnets.1.id"],
    ["bad namespace", { format: SNAPSHOT_FORMAT, subnets: [subnet({ namespace: "has space" })], allocations: [] }, "subnets.0.namespace"],
    ["pool outside", { format: SNAPSHOT_FORMAT, subnets: [subnet({ allocationPools: [{ start: "10.0.1.1", end: "10.0.1.9" }] })], allocations: [] }, "subnets.0.allocationPools.0.start"],
    ["missing parent", { format: SNAPSHOT_FORMAT, subnets: [subnet({ parentId: "9" })], allocations: [] }, "subnets.0.parentId"],
    ["child not inside", { format: SNAPSHOT_FORMAT, subnets: [subnet(), subnet({ id: "2", parentId: "1", cidr: "10.9.0.0/25", gateway: null })], allocations: [] }, "subnets.1.parentId"],
    ["specific with two", { format: SNAPSHOT_FORMAT, subnets: [subnet()], allocations: [allocation({ strategy: "specific", addresses: ["10.0.0.2", "10.0.0.3"] })] }, "allocations.0.addresses"],
    ["no addresses", { format: SNAPSHOT_FORMAT, subnets: [subnet()], allocations: [allocation({ addresses: [] })] }, "allocations.0.addresses"],
    ["broadcast", { format: SNAPSHOT_FORMAT, subnets: [subnet()], allocations: [allocation({ addresses: ["10.0.0.255"] })] }, "allocations.0.addresses.0"],
    ["IPv6 in IPv4", { format: SNAPSHOT_FORMAT, subnets: [subnet()], allocations: [allocation({ addresses: ["2001:db8::1"] })] }, "allocations.0.addresses.0"],
    ["same address twice in one", { format: SNAPSHOT_FORMAT, subnets: [subnet()], allocations: [allocation({ addresses: ["10.0.0.2", "10.0.0.2"] })] }, "allocations.0.addresses.1"],
    ["duplicate key", { format: SNAPSHOT_FORMAT, subnets: [subnet()], allocations: [allocation({ idempotencyKey: "k" }), allocation({ id: "2", idempotencyKey: "k", addresses: ["10.0.0.3"] })] }, "allocations.1.idempotencyKey"],
    ["duplicate allocation id", { format: SNAPSHOT_FORMAT, subnets: [subnet()], allocations: [allocation(), allocation({ addresses: ["10.0.0.3"] })] }, "allocations.1.id"],
    ["bad timestamp", { format: SNAPSHOT_FORMAT, subnets: [subnet({ createdAt: "yesterday" })], allocations: [] }, "subnets.0.createdAt"],
    ["NUL in owner", { format: SNAPSHOT_FORMAT, subnets: [subnet()], allocations: [allocation({ owner: "a\u0000b" })] }, "allocations.0.owner"],
  ])("%s: names %s", (_, input, field) => {
    expect(issues(input).map((issue) => issue.field)).toContain(field);
  });

  it("reports at most 50 issues for a badly broken file", () => {
    const allocations = Array.from({ length: 200 }, (_, i) => allocation({ id: String(i + 1), addresses: ["10.0.0.1"] }));
    expect(issues({ format: SNAPSHOT_FORMAT, subnets: [subnet()], allocations })).toHaveLength(50);
  });
});

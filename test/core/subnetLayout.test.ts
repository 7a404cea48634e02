import { describe, expect, it } from "vitest";
import { parseCidr, parseAddress } from "../../provider/core/address.js";
import { InvalidInputError } from "../../provider/core/errors.js";
import { buildLayout, specificAddressProblem } from "../../provider/core/subnetLayout.js";

const layout = (cidr: string, fields: Parameters<typeof buildLayout>[1] = {}) => buildLayout(parseCidr(cidr, "cidr"), fields);
const pools = (cidr: string, fields: Parameters<typeof buildLayout>[1] = {}) =>
  layout(cidr, fields).pools.map((pool) => `${pool.start}-${pool.end}`);

describe("default pools", () => {
  it("IPv4 drops network and broadcast, and the gateway", () => {
    expect(pools("10.0.0.0/24")).toEqual(["10.0.0.1-10.0.0.254"]);
    expect(pools("10.0.0.0/24", { gateway: "10.0.0.1" })).toEqual(["10.0.0.2-10.0.0.254"]);
    expect(pools("10.0.0.0/24", { gateway: "10.0.0.100" })).toEqual(["10.0.0.1-10.0.0.99", "10.0.0.101-10.0.0.254"]);
  });

  it("IPv4 /31 and /32 use every address (RFC 3021)", () => {
    expect(pools("10.0.0.0/31")).toEqual(["10.0.0.0-10.0.0.1"]);
    expect(pools("10.0.0.7/32")).toEqual(["10.0.0.7-10.0.0.7"]);
  });

  it("IPv6 drops only the subnet-router anycast address, except /127 and /128", () => {
    expect(pools("2001:db8::/64")).toEqual(["2001:db8::1-2001:db8::ffff:ffff:ffff:ffff"]);
    expect(pools("2001:db8::/127")).toEqual(["2001:db8::-2001:db8::1"]);
  });
});

describe("validation", () => {
  const issues = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      if (error instanceof InvalidInputError) return error.issues.map((issue) => issue.field);
      throw error;
    }
    return [];
  };

  it("names every offending field at once", () => {
    expect(
      issues(() =>
        layout("10.0.0.0/24", {
          gateway: "10.0.1.1",
          allocationPools: [{ start: "10.0.0.50", end: "10.0.0.10" }, { start: "10.0.0.0", end: "10.0.0.5" }],
          reserved: ["10.9.0.0/30"],
        }),
      ),
    ).toEqual(["gateway", "allocationPools.0", "allocationPools.1.start", "reserved.0"]);
  });

  it("refuses overlapping pools, a gateway inside a pool, mixed families and an empty pool list", () => {
    expect(issues(() => layout("10.0.0.0/24", { allocationPools: [{ start: "10.0.0.10", end: "10.0.0.20" }, { start: "10.0.0.20", end: "10.0.0.30" }] }))).toEqual(["allocationPools.1"]);
    expect(issues(() => layout("10.0.0.0/24", { gateway: "10.0.0.15", allocationPools: [{ start: "10.0.0.10", end: "10.0.0.20" }] }))).toEqual(["gateway"]);
    expect(issues(() => layout("10.0.0.0/24", { gateway: "2001:db8::1" }))).toEqual(["gateway"]);
    expect(issues(() => layout("10.0.0.0/24", { allocationPools: [] }))).toEqual(["allocationPools"]);
  });

  it("subtracts reserved addresses and blocks from what can be allocated", () => {
    const result = layout("10.0.0.0/28", { gateway: "10.0.0.1", reserved: ["10.0.0.4", "10.0.0.8/30"] });
    expect(result.available.map((r) => [Number(r.first & 0xffn), Number(r.last & 0xffn)])).toEqual([[2, 3], [5, 7], [12, 14]]);
    expect(result.reserved.map((r) => r.text)).toEqual(["10.0.0.4", "10.0.0.8/30"]);
  });

  it("explains why a specific address cannot be taken", () => {
    const result = layout("10.0.0.0/24", { gateway: "10.0.0.1", reserved: ["10.0.0.5"] });
    const problem = (text: string) => specificAddressProblem(result, parseAddress(text, "address"));
    expect(problem("10.0.0.0")).toContain("network address");
    expect(problem("10.0.0.255")).toContain("broadcast address");
    expect(problem("10.0.0.1")).toContain("gateway");
    expect(problem("10.0.0.5")).toContain("reserved");
    expect(problem("10.0.1.5")).toContain("not inside");
    expect(problem("10.0.0.77")).toBeNull();
  });
});

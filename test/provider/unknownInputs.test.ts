import { describe, expect, it } from "vitest";
import * as allocation from "../../provider/dynamic/allocationProvider.js";
import * as subnet from "../../provider/dynamic/subnetProvider.js";
import { knownView } from "../../provider/dynamic/unknowns.js";
import { UNKNOWN } from "../../provider/dynamic/wire.js";

// Check during preview (no database is touched): everything known is validated, exactly the unknown parts are skipped.
const failures = async (p: Promise<{ failures?: { property: string; reason: string }[] }>) => (await p).failures ?? [];

describe("knownView", () => {
  it("leaves out unknowns at any depth and maps view indices back to the program's", () => {
    const known = knownView({ a: UNKNOWN, list: [UNKNOWN, "x", { y: UNKNOWN }, "z"], tags: { k: UNKNOWN, j: "v" } });
    expect(known.view).toEqual({ list: ["x", "z"], tags: { j: "v" } });
    expect(known.unknownPaths.sort()).toEqual(["a", "list.0", "list.2.y", "tags.k"]);
    expect(known.originalPath("list.1")).toBe("list.3");
  });
});

describe("Subnet check with unknowns", () => {
  it("a pool start from another resource's output passes; a known bad bound beside it fails, named", async () => {
    const pools = (start: unknown, end: unknown) => ({ cidr: "10.9.0.0/24", allocationPools: [{ start, end }] });
    expect(await failures(subnet.check({}, pools(UNKNOWN, "10.9.0.200")))).toEqual([]);
    expect(await failures(subnet.check({}, pools(UNKNOWN, UNKNOWN)))).toEqual([]);
    expect((await failures(subnet.check({}, pools(UNKNOWN, "10.10.0.200")))).map((f) => f.reason)).toEqual([expect.stringMatching(/^allocationPools\.0\.end: /)]);
  });

  it("an unknown reserved entry is skipped; a known bad one after it is named at its own index", async () => {
    const found = await failures(subnet.check({}, { cidr: "10.9.0.0/24", reserved: [UNKNOWN, "10.99.0.1"] }));
    expect(found.map((f) => [f.property, f.reason.split(":")[0]])).toEqual([["reserved", "reserved.1"]]);
  });

  it("an unknown parentId still makes a child: no 'cidr is required'; a known bad prefixLength is still reported", async () => {
    expect(await failures(subnet.check({}, { parentId: UNKNOWN, prefixLength: 24 }))).toEqual([]);
    expect((await failures(subnet.check({}, { parentId: UNKNOWN, prefixLength: 200 }))).map((f) => f.property)).toEqual(["prefixLength"]);
  });

  it("an unknown cidr skips the layout; the known fields are still checked", async () => {
    expect(await failures(subnet.check({}, { cidr: UNKNOWN, gateway: "10.0.0.1" }))).toEqual([]);
    expect((await failures(subnet.check({}, { cidr: UNKNOWN, tags: { k: 5 } }))).map((f) => f.property)).toEqual(["tags"]);
  });
});

describe("IpAllocation check with unknowns", () => {
  it("a known bad count beside an unknown subnetId fails naming count; a valid one passes", async () => {
    expect((await failures(allocation.check({}, { subnetId: UNKNOWN, count: 0 }))).map((f) => f.property)).toEqual(["count"]);
    expect(await failures(allocation.check({}, { subnetId: UNKNOWN, count: 2 }))).toEqual([]);
  });

  it("an unknown address still counts as given: count must be 1 beside it", async () => {
    expect((await failures(allocation.check({}, { subnetId: "1", address: UNKNOWN, count: 2 }))).map((f) => f.property)).toEqual(["count"]);
    expect(await failures(allocation.check({}, { subnetId: "1", address: UNKNOWN }))).toEqual([]);
  });
});

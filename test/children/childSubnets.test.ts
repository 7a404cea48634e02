import { describe, expect, it } from "vitest";
import pg from "pg";
import { useTestIpam } from "../helpers/openTestIpam.js";
import { failure } from "../helpers/failure.js";
import { childIndexComparison, childOverlapAndAlignment } from "../helpers/childIndex.js";
import type { Ipam } from "../../provider/store/index.js";

const context = useTestIpam("children");

async function countRows(table: string, where = "TRUE"): Promise<number> {
  const client = new pg.Client({ connectionString: context.db.url });
  await client.connect();
  try {
    return Number((await client.query(`SELECT count(*) FROM ipam.${table} WHERE ${where}`)).rows[0].count);
  } finally {
    await client.end();
  }
}

async function expectExactIndexes(subnetId: string): Promise<void> {
  const index = await childIndexComparison(context.db.url, subnetId);
  expect(index.storedRanges).toEqual(index.expectedRanges);
  expect(index.storedBlocks).toEqual(index.expectedBlocks);
}

const carve = (ipam: Ipam, parentId: string, prefixLength: number, more: Record<string, unknown> = {}) =>
  ipam.createSubnet({ parentId, prefixLength, ...more }).then((subnet) => subnet.cidr);

describe("carving children", () => {
  it("first fit hands out the lowest aligned free block of each size, in the parent's namespace", async () => {
    const { ipam } = context;
    const parent = await ipam.createSubnet({ cidr: "10.10.0.0/16", namespace: "carve", childrenOnly: true });
    expect(await carve(ipam, parent.id, 24)).toBe("10.10.0.0/24");
    expect(await carve(ipam, parent.id, 24)).toBe("10.10.1.0/24");
    expect(await carve(ipam, parent.id, 20)).toBe("10.10.16.0/20");
    expect(await carve(ipam, parent.id, 23)).toBe("10.10.2.0/23");
    expect(await carve(ipam, parent.id, 28)).toBe("10.10.4.0/28");
    const child = await ipam.createSubnet({ parentId: parent.id, prefixLength: 26, description: "team a", tags: { team: "a" } });
    expect(child).toMatchObject({
      cidr: "10.10.4.64/26",
      parentId: parent.id,
      namespace: "carve",
      prefixLength: 26,
      size: "64",
      allocationPools: [{ start: "10.10.4.65", end: "10.10.4.126" }],
      childrenOnly: false,
      minPrefixLength: null,
      idempotencyKey: null,
      tags: { team: "a" },
    });
    // A child is an ordinary subnet: addresses come from it.
    const { allocation } = await ipam.allocate({ subnetId: child.id, owner: "a/web" });
    expect(allocation.addresses).toEqual(["10.10.4.65"]);
    await expectExactIndexes(parent.id);
    expect(await childOverlapAndAlignment(context.db.url, parent.id)).toEqual({ overlaps: 0, misaligned: 0 });
  });

  it("a specific CIDR inside the parent, with its own layout; refused when taken, outside, or over what the parent keeps", async () => {
    const { ipam } = context;
    const parent = await ipam.createSubnet({ cidr: "10.11.0.0/16", namespace: "specific", gateway: "10.11.0.1", reserved: ["10.11.255.0/24"] });
    const child = await ipam.createSubnet({ parentId: parent.id, cidr: "10.11.8.0/22", gateway: "10.11.8.1", reserved: ["10.11.8.0/28"] });
    expect(child).toMatchObject({ cidr: "10.11.8.0/22", gateway: "10.11.8.1", reserved: ["10.11.8.0/28"], parentId: parent.id, namespace: "specific" });
    const before = await countRows("subnet");
    const overlap = await failure(ipam.createSubnet({ parentId: parent.id, cidr: "10.11.9.0/24" }));
    expect(overlap).toMatchObject({ code: "OVERLAP" });
    expect(overlap.message).toBe(`cidr 10.11.9.0/24 overlaps subnet ${child.id} (10.11.8.0/22) in namespace "specific"`);
    expect((await failure(ipam.createSubnet({ parentId: parent.id, cidr: "10.12.0.0/24" }))).message).toBe(
      `cidr: 10.12.0.0/24 is not strictly inside its parent subnet ${parent.id} (10.11.0.0/16)`,
    );
    expect((await failure(ipam.createSubnet({ parentId: parent.id, cidr: "10.11.0.0/16" }))).message).toContain("is not strictly inside its parent");
    expect((await failure(ipam.createSubnet({ parentId: parent.id, cidr: "10.11.0.0/24" }))).message).toBe(
      `cidr: 10.11.0.0/24 covers the gateway 10.11.0.1 of its parent subnet ${parent.id} (10.11.0.0/16)`,
    );
    expect((await failure(ipam.createSubnet({ parentId: parent.id, cidr: "10.11.255.128/25" }))).message).toBe(
      `cidr: 10.11.255.128/25 is not free in its parent subnet ${parent.id} (10.11.0.0/16) (it covers reserved 10.11.255.0/24)`,
    );
    expect((await failure(ipam.createSubnet({ parentId: parent.id, cidr: "2001:db8::/64" }))).code).toBe("INVALID_INPUT");
    expect((await failure(ipam.createSubnet({ parentId: parent.id, cidr: "10.11.4.0/24", prefixLength: 25 }))).message).toBe(
      "prefixLength: 25 does not match cidr 10.11.4.0/24",
    );
    expect((await failure(ipam.createSubnet({ parentId: parent.id, prefixLength: 24, namespace: "other" }))).message).toBe(
      `namespace: a child lives in its parent's namespace "specific", got "other"`,
    );
    expect((await failure(ipam.createSubnet({ parentId: "999999", prefixLength: 24 }))).code).toBe("NOT_FOUND");
    expect(await countRows("subnet")).toBe(before);
    // First fit steps around the gateway (10.11.0.1 stays the parent's) and the specific child.
    expect(await carve(ipam, parent.id, 24)).toBe("10.11.1.0/24");
    expect(await carve(ipam, parent.id, 22)).toBe("10.11.4.0/22");
    expect(await carve(ipam, parent.id, 21)).toBe("10.11.16.0/21");
    await expectExactIndexes(parent.id);
  });

  it("rules: the default length, the allowed range, and clear errors that change nothing", async () => {
    const { ipam } = context;
    const parent = await ipam.createSubnet({ cidr: "10.12.0.0/16", namespace: "rules", minPrefixLength: 20, maxPrefixLength: 28, defaultPrefixLength: 24 });
    expect(parent).toMatchObject({ minPrefixLength: 20, maxPrefixLength: 28, defaultPrefixLength: 24, childrenOnly: false });
    expect((await ipam.createSubnet({ parentId: parent.id })).cidr).toBe("10.12.0.0/24");
    const before = await countRows("subnet");
    for (const prefixLength of [19, 29, 16]) {
      const error = await failure(ipam.createSubnet({ parentId: parent.id, prefixLength }));
      expect(error).toMatchObject({ code: "INVALID_INPUT", issues: [{ field: "prefixLength" }] });
      expect(error.message).toBe(
        `prefixLength: must be between 20 and 28 for a child of subnet ${parent.id} (10.12.0.0/16) (its minPrefixLength/maxPrefixLength), got ${prefixLength}`,
      );
    }
    // A specific CIDR obeys the same rules.
    expect((await failure(ipam.createSubnet({ parentId: parent.id, cidr: "10.12.128.0/29" }))).message).toContain("prefixLength: must be between 20 and 28");
    expect(await countRows("subnet")).toBe(before);

    const bare = await ipam.createSubnet({ cidr: "10.13.0.0/16", namespace: "rules" });
    expect((await failure(ipam.createSubnet({ parentId: bare.id }))).message).toBe(
      `prefixLength: is required: subnet ${bare.id} (10.13.0.0/16) has no defaultPrefixLength (children may be /17 to /32)`,
    );
    expect((await failure(ipam.createSubnet({ parentId: bare.id, prefixLength: 33 }))).message).toBe("prefixLength: must be at most 32 for IPv4, got 33");

    const badRules = await failure(ipam.createSubnet({ cidr: "10.14.0.0/16", minPrefixLength: 16, maxPrefixLength: 33, namespace: "rules" }));
    expect(badRules.issues).toEqual([
      { field: "minPrefixLength", reason: "must be between 17 and 32 for children of 10.14.0.0/16, got 16" },
      { field: "maxPrefixLength", reason: "must be between 17 and 32 for children of 10.14.0.0/16, got 33" },
    ]);
    expect((await failure(ipam.createSubnet({ cidr: "10.14.0.0/16", minPrefixLength: 24, maxPrefixLength: 20 }))).message).toBe(
      "minPrefixLength: 24 is greater than maxPrefixLength 20",
    );
    expect((await failure(ipam.createSubnet({ cidr: "10.14.0.0/16", defaultPrefixLength: 18, minPrefixLength: 20 }))).message).toBe(
      "defaultPrefixLength: must be between minPrefixLength 20 and maxPrefixLength 32, got 18",
    );
    // Rules a carved child sets for its own children are checked against its length before any block is taken.
    expect((await failure(ipam.createSubnet({ parentId: parent.id, prefixLength: 24, maxPrefixLength: 24 }))).message).toBe(
      "maxPrefixLength: must be between 25 and 32 for children of a /24 child, got 24",
    );
    expect(await countRows("subnet")).toBe(before + 1);

    // Rules can change later; existing children outside them stay.
    const updated = await ipam.updateSubnet(parent.id, { minPrefixLength: 26, defaultPrefixLength: null });
    expect(updated.subnet).toMatchObject({ minPrefixLength: 26, maxPrefixLength: 28, defaultPrefixLength: null });
    expect((await failure(ipam.createSubnet({ parentId: parent.id }))).message).toContain("prefixLength: is required");
    expect((await failure(ipam.updateSubnet(parent.id, { maxPrefixLength: 25 }))).message).toBe("minPrefixLength: 26 is greater than maxPrefixLength 25");
    expect((await ipam.getSubnet(parent.id)).maxPrefixLength).toBe(28);
  });

  it("best fit takes the smallest free block that fits and keeps the big one whole; first fit breaks it", async () => {
    const { ipam } = context;
    // Two identical parents where the free space is a /20 at the bottom and a lone /24 high up.
    const fragmented = async (second: number) => {
      const parent = await ipam.createSubnet({ cidr: `10.${second}.0.0/16`, namespace: "fit", childrenOnly: true });
      for (const block of ["16.0/20", "32.0/19", "64.0/18", "128.0/18", "192.0/21", "201.0/24", "202.0/23", "204.0/22", "208.0/20", "224.0/19"]) {
        const [third, rest] = block.split(".");
        await ipam.createSubnet({ parentId: parent.id, cidr: `10.${second}.${third}.${rest}` });
      }
      return parent;
    };
    const best = await fragmented(20);
    const first = await fragmented(21);
    expect(await carve(ipam, best.id, 24, { strategy: "best-fit" })).toBe("10.20.200.0/24");
    expect(await carve(ipam, first.id, 24, { strategy: "first-fit" })).toBe("10.21.0.0/24");
    // The point of best fit: the /20 is still there for a later request; after first fit it is not.
    expect(await carve(ipam, best.id, 20)).toBe("10.20.0.0/20");
    const exhausted = await failure(ipam.createSubnet({ parentId: first.id, prefixLength: 20 }));
    expect(exhausted).toMatchObject({ code: "SUBNET_EXHAUSTED", subnetId: first.id, prefixLength: 20 });
    expect(exhausted.message).toBe(`subnet ${first.id} (10.21.0.0/16) has no free /20 left for a child subnet`);
    // Left of the /20: 10.21.1.0/24, 10.21.2.0/23, 10.21.4.0/22, 10.21.8.0/21, and 10.21.200.0/24. Among blocks of
    // the same size best fit takes the lowest; it splits a larger block only when no exact one is left.
    expect(await carve(ipam, first.id, 22, { strategy: "best-fit" })).toBe("10.21.4.0/22");
    expect(await carve(ipam, first.id, 24, { strategy: "best-fit" })).toBe("10.21.1.0/24");
    expect(await carve(ipam, first.id, 24, { strategy: "best-fit" })).toBe("10.21.200.0/24");
    expect(await carve(ipam, first.id, 24, { strategy: "best-fit" })).toBe("10.21.2.0/24");
    expect(await carve(ipam, first.id, 23, { strategy: "best-fit" })).toBe("10.21.8.0/23");
    await expectExactIndexes(best.id);
    await expectExactIndexes(first.id);
  });

  it("idempotency key: a repeated request returns the same child; a different one is refused", async () => {
    const { ipam } = context;
    const parent = await ipam.createSubnet({ cidr: "10.15.0.0/16", namespace: "keys" });
    const a = await ipam.createSubnet({ parentId: parent.id, prefixLength: 24, idempotencyKey: "stack-a/vpc" });
    expect(a).toMatchObject({ cidr: "10.15.0.0/24", idempotencyKey: "stack-a/vpc" });
    expect(await ipam.createSubnet({ parentId: parent.id, prefixLength: 24, idempotencyKey: "stack-a/vpc" })).toEqual(a);
    expect(await ipam.createSubnet({ parentId: parent.id, idempotencyKey: "stack-a/vpc" })).toEqual(a);
    const mismatch = await failure(ipam.createSubnet({ parentId: parent.id, prefixLength: 25, idempotencyKey: "stack-a/vpc" }));
    expect(mismatch).toMatchObject({ code: "IDEMPOTENCY_MISMATCH" });
    expect(mismatch.message).toContain(`it created child ${a.id} (10.15.0.0/24) but this request asks for a /25`);
    expect((await ipam.listChildren(parent.id)).subnets).toHaveLength(1);
    // Concurrent retries of one request: one block, the same child for all.
    const racing = await Promise.all(Array.from({ length: 8 }, () => ipam.createSubnet({ parentId: parent.id, prefixLength: 26, idempotencyKey: "stack-b/app" })));
    expect(new Set(racing.map((child) => child.id)).size).toBe(1);
    expect((await ipam.listChildren(parent.id)).subnets).toHaveLength(2);
  });
});

describe("parents and their own addresses", () => {
  it("a children-only parent refuses addresses; a mixed parent keeps addresses and children apart both ways", async () => {
    const { ipam } = context;
    const pool = await ipam.createSubnet({ cidr: "10.30.0.0/16", namespace: "mixed", childrenOnly: true });
    const before = await countRows("allocation");
    for (const request of [{}, { strategy: "random" as const }, { address: "10.30.0.9" }, { count: 3 }]) {
      const error = await failure(ipam.allocate({ subnetId: pool.id, owner: "x", ...request }));
      expect(error.code).toBe("INVALID_INPUT");
      expect(error.message).toBe(`subnetId: subnet ${pool.id} (10.30.0.0/16) hands out child subnets only (childrenOnly); allocate from one of its children`);
    }
    expect(await countRows("allocation")).toBe(before);
    expect(await ipam.usage(pool.id)).toMatchObject({ free: "0", allocated: "0" });

    const mixed = await ipam.createSubnet({ cidr: "10.31.0.0/22", namespace: "mixed" });
    const low = await ipam.allocate({ subnetId: mixed.id, owner: "dns", address: "10.31.0.5" });
    // Carving skips the /24 holding 10.31.0.5 (first fit and best fit alike) ...
    const child = await ipam.createSubnet({ parentId: mixed.id, prefixLength: 24 });
    expect(child.cidr).toBe("10.31.1.0/24");
    expect(await carve(ipam, mixed.id, 25, { strategy: "best-fit" })).toBe("10.31.0.128/25");
    // ... a specific CIDR over it is refused, naming the address ...
    const conflict = await failure(ipam.createSubnet({ parentId: mixed.id, cidr: "10.31.0.0/26" }));
    expect(conflict).toMatchObject({ code: "CONFLICT", field: "cidr", addresses: ["10.31.0.5"] });
    expect(conflict.message).toBe(`cidr: 10.31.0.0/26 covers addresses allocated directly in its parent subnet ${mixed.id} (10.31.0.0/22): 10.31.0.5`);
    // ... and a specific address inside a child is refused, naming the child.
    const inside = await failure(ipam.allocate({ subnetId: mixed.id, owner: "x", address: "10.31.1.20" }));
    expect(inside).toMatchObject({ code: "ADDRESS_IN_USE", childId: child.id, childCidr: "10.31.1.0/24" });
    expect(inside.message).toBe(`address 10.31.1.20 of subnet ${mixed.id} is inside its child subnet ${child.id} (10.31.1.0/24); allocate it from that subnet`);
    // Next free addresses never land in a child: .1 to .4, .6 to .127, then 10.31.2.0 onwards.
    const bulk = await ipam.allocate({ subnetId: mixed.id, owner: "bulk", count: 126 });
    expect(bulk.allocation.addresses.at(-1)).toBe("10.31.0.127");
    expect((await ipam.allocate({ subnetId: mixed.id, owner: "next" })).allocation.addresses).toEqual(["10.31.2.0"]);
    const random = await ipam.allocate({ subnetId: mixed.id, owner: "random", strategy: "random", count: 50 });
    for (const address of random.allocation.addresses) expect(address.startsWith("10.31.2.") || address.startsWith("10.31.3.")).toBe(true);
    await expectExactIndexes(mixed.id);
    await ipam.release(low.allocation.id);
    await expectExactIndexes(mixed.id);
  });

  it("usage counts children; the tree and the child list read them in address order", async () => {
    const { ipam } = context;
    const parent = await ipam.createSubnet({ cidr: "10.40.0.0/20", namespace: "usage", gateway: "10.40.0.1", reserved: ["10.40.15.0/24"] });
    await ipam.allocate({ subnetId: parent.id, owner: "gw-peer", count: 2 });
    const a = await ipam.createSubnet({ parentId: parent.id, prefixLength: 24 });
    const b = await ipam.createSubnet({ parentId: parent.id, prefixLength: 22, childrenOnly: true, defaultPrefixLength: 26 });
    const grandchild = await ipam.createSubnet({ parentId: b.id });
    await ipam.allocate({ subnetId: grandchild.id, owner: "app", count: 5 });
    expect([a.cidr, b.cidr, grandchild.cidr]).toEqual(["10.40.1.0/24", "10.40.4.0/22", "10.40.4.0/26"]);
    expect(await ipam.usage(parent.id)).toEqual({
      subnetId: parent.id,
      cidr: "10.40.0.0/20",
      total: "4096",
      // Usable .0.1-.15.254, minus the gateway, minus the 255 usable addresses of the reserved /24.
      poolSize: String(4094 - 1 - 255),
      allocated: "2",
      free: String(4094 - 1 - 255 - 2 - 256 - 1024),
      outsidePool: "0",
      held: "0",
      childPrefixes: 2,
      childAddresses: "1280",
      childSpaceFree: String(4096 - 1 - 256 - 1280 - 2),
    });
    expect(await ipam.usage(b.id)).toMatchObject({ childPrefixes: 1, childAddresses: "64", free: "0", allocated: "0", childSpaceFree: "960" });
    const tree = await ipam.subnetTree(parent.id);
    expect(tree.truncated).toBe(false);
    expect(tree.entries.map((entry) => [entry.depth, entry.subnet.cidr, entry.usage.allocated])).toEqual([
      [0, "10.40.0.0/20", "2"],
      [1, "10.40.1.0/24", "0"],
      [1, "10.40.4.0/22", "0"],
      [2, "10.40.4.0/26", "5"],
    ]);
    expect((await ipam.subnetTree(parent.id, { maxDepth: 1, limit: 2 })).entries.map((entry) => entry.subnet.cidr)).toEqual(["10.40.0.0/20", "10.40.1.0/24"]);
    expect((await ipam.subnetTree(parent.id, { limit: 2 })).truncated).toBe(true);
    expect((await failure(ipam.subnetTree("999999"))).code).toBe("NOT_FOUND");

    for (let i = 0; i < 5; i += 1) await ipam.createSubnet({ parentId: parent.id, prefixLength: 28 });
    const page1 = await ipam.listChildren(parent.id, { limit: 4 });
    const page2 = await ipam.listChildren(parent.id, { limit: 4, after: page1.next! });
    expect([...page1.subnets, ...page2.subnets].map((s) => s.cidr)).toEqual([
      "10.40.0.16/28", "10.40.0.32/28", "10.40.0.48/28", "10.40.0.64/28", "10.40.0.80/28", "10.40.1.0/24", "10.40.4.0/22",
    ]);
    expect(page2.next).toBeNull();
    expect((await failure(ipam.listChildren(parent.id, { after: "nonsense" }))).message).toContain("after:");
  });
});

describe("releasing and deleting", () => {
  it("deleting a child returns its block (merged back whole), and the next request gets it again", async () => {
    const { ipam, db } = context;
    const parent = await ipam.createSubnet({ cidr: "10.50.0.0/16", namespace: "release" });
    const children = [];
    for (const length of [24, 26, 20, 24]) children.push(await ipam.createSubnet({ parentId: parent.id, prefixLength: length }));
    expect(children.map((c) => c.cidr)).toEqual(["10.50.0.0/24", "10.50.1.0/26", "10.50.16.0/20", "10.50.2.0/24"]);
    await expectExactIndexes(parent.id);
    expect(await ipam.deleteSubnet(children[1]!.id)).toEqual({ deleted: true });
    await expectExactIndexes(parent.id);
    expect(await carve(ipam, parent.id, 26)).toBe("10.50.1.0/26");
    for (const child of await ipam.listChildren(parent.id).then((page) => page.subnets)) await ipam.deleteSubnet(child.id);
    // Everything merged back: one free block, the parent itself; one free range, its usable addresses.
    const index = await childIndexComparison(db.url, parent.id);
    expect(index.storedBlocks).toEqual([`${(10n << 24n) + (50n << 16n)}-${(10n << 24n) + (50n << 16n) + 65535n}/16`]);
    expect(index.storedRanges).toEqual(index.expectedRanges);
    expect(index.storedRanges).toHaveLength(1);
    expect(await ipam.usage(parent.id)).toMatchObject({ childPrefixes: 0, childAddresses: "0", free: "65534" });
    expect(await ipam.deleteSubnet(parent.id)).toEqual({ deleted: true });
    expect(await countRows("free_block", `subnet_id = ${Number(parent.id)}`)).toBe(0);
  });

  it("a parent with children cannot be deleted; a child with addresses neither; history records carve and return", async () => {
    const { ipam } = context;
    const parent = await ipam.createSubnet({ cidr: "10.51.0.0/16", namespace: "release" });
    const a = await ipam.createSubnet({ parentId: parent.id, prefixLength: 24 });
    const b = await ipam.createSubnet({ parentId: parent.id, prefixLength: 24 });
    const inUse = await failure(ipam.deleteSubnet(parent.id));
    expect(inUse).toMatchObject({ code: "SUBNET_IN_USE", what: "child subnet", allocationCount: 2, examples: [`${a.id} (10.51.0.0/24)`, `${b.id} (10.51.1.0/24)`] });
    expect(inUse.message).toBe(`subnet ${parent.id} still has 2 child subnets (first: ${a.id} (10.51.0.0/24), ${b.id} (10.51.1.0/24)); delete them first`);
    const held = await ipam.allocate({ subnetId: a.id, owner: "app" });
    expect(await failure(ipam.deleteSubnet(a.id))).toMatchObject({ code: "SUBNET_IN_USE", what: "allocation" });
    await ipam.release(held.allocation.id);
    await ipam.deleteSubnet(a.id);
    await ipam.deleteSubnet(b.id);
    const { events } = await ipam.history({ subnetId: parent.id });
    expect(events.map((event) => `${event.action} ${event.cidr}`)).toEqual([
      "child.return 10.51.1.0/24", "child.return 10.51.0.0/24", "child.carve 10.51.1.0/24", "child.carve 10.51.0.0/24", "subnet.create 10.51.0.0/16",
    ]);
    expect(await ipam.deleteSubnet(parent.id)).toEqual({ deleted: true });
  });

  it("parent updates keep child blocks out of its free ranges, and refuse covering a child", async () => {
    const { ipam } = context;
    const parent = await ipam.createSubnet({ cidr: "10.52.0.0/22", namespace: "update" });
    const child = await ipam.createSubnet({ parentId: parent.id, cidr: "10.52.1.0/24" });
    await ipam.allocate({ subnetId: parent.id, owner: "x", count: 3 });
    await ipam.updateSubnet(parent.id, { allocationPools: [{ start: "10.52.0.200", end: "10.52.2.50" }] });
    await expectExactIndexes(parent.id);
    const next = await ipam.allocate({ subnetId: parent.id, owner: "y", count: 60 });
    expect(next.allocation.addresses.at(-1)).toBe("10.52.2.3");
    for (const [patch, field] of [[{ reserved: ["10.52.1.128/25"] }, "reserved"], [{ gateway: "10.52.1.1", allocationPools: null }, "gateway"]] as const) {
      const error = await failure(ipam.updateSubnet(parent.id, patch));
      expect(error).toMatchObject({ code: "CONFLICT", field });
      expect(error.message).toBe(`${field}: would cover child subnets: ${child.id} (10.52.1.0/24)`);
    }
    const toPool = await failure(ipam.updateSubnet(parent.id, { childrenOnly: true }));
    expect(toPool).toMatchObject({ code: "CONFLICT", field: "childrenOnly" });
    expect(toPool.message).toContain(`subnet ${parent.id} holds 2 allocations of its own; release them first`);
    // A reserved range elsewhere reshapes the free blocks: rebuilt exactly on the next child operation.
    await ipam.updateSubnet(parent.id, { reserved: ["10.52.3.0/25"], allocationPools: null });
    // 10.52.0.0/25, .0.128/25 and .2.0/25 hold the parent's own addresses.
    expect(await carve(ipam, parent.id, 25)).toBe("10.52.2.128/25");
    expect(await carve(ipam, parent.id, 25)).toBe("10.52.3.128/25");
    expect(await failure(ipam.createSubnet({ parentId: parent.id, prefixLength: 25 }))).toMatchObject({ code: "SUBNET_EXHAUSTED" });
    await expectExactIndexes(parent.id);

    const empty = await ipam.createSubnet({ cidr: "10.53.0.0/24", namespace: "update" });
    await ipam.createSubnet({ parentId: empty.id, prefixLength: 26 });
    expect((await ipam.updateSubnet(empty.id, { childrenOnly: true })).subnet.childrenOnly).toBe(true);
    await expectExactIndexes(empty.id);
    expect((await ipam.updateSubnet(empty.id, { childrenOnly: false })).subnet.childrenOnly).toBe(false);
    await expectExactIndexes(empty.id);
    expect((await ipam.allocate({ subnetId: empty.id, owner: "z" })).allocation.addresses).toEqual(["10.53.0.64"]);
  });
});

describe("IPv6", () => {
  it("a /48 hands out a few thousand /64s, densely from the bottom, without overlap", async () => {
    const { ipam, db } = context;
    const parent = await ipam.createSubnet({ cidr: "2001:db8:aa::/48", namespace: "v6", childrenOnly: true, defaultPrefixLength: 64, maxPrefixLength: 64 });
    const total = 2048;
    const cidrs: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (next < total) {
          next += 1;
          cidrs.push((await ipam.createSubnet({ parentId: parent.id })).cidr);
        }
      }),
    );
    expect(cidrs).toHaveLength(total);
    const expected = Array.from({ length: total }, (_, i) => (i === 0 ? "2001:db8:aa::/64" : `2001:db8:aa:${i.toString(16)}::/64`));
    expect([...cidrs].sort()).toEqual([...expected].sort());
    expect(await childOverlapAndAlignment(db.url, parent.id)).toEqual({ overlaps: 0, misaligned: 0 });
    expect(await ipam.usage(parent.id)).toMatchObject({ childPrefixes: total, childAddresses: (BigInt(total) << 64n).toString() });
    expect((await failure(ipam.createSubnet({ parentId: parent.id, prefixLength: 65 }))).message).toContain("prefixLength: must be between 49 and 64");
    await expectExactIndexes(parent.id);

    const small = await ipam.createSubnet({ cidr: "2001:db8:bb::/124", namespace: "v6" });
    const sixteens = [];
    for (let i = 0; i < 4; i += 1) sixteens.push(await carve(ipam, small.id, 126, { strategy: "best-fit" }));
    expect(sixteens).toEqual(["2001:db8:bb::/126", "2001:db8:bb::4/126", "2001:db8:bb::8/126", "2001:db8:bb::c/126"]);
    expect(await failure(ipam.createSubnet({ parentId: small.id, prefixLength: 128 }))).toMatchObject({ code: "SUBNET_EXHAUSTED", prefixLength: 128 });
  }, 600_000);
});

describe("README example (Child subnets)", () => {
  it("does what the README says", async () => {
    const { ipam } = context;
    const vpc = await ipam.createSubnet({
      cidr: "10.0.0.0/16", namespace: "prod",
      childrenOnly: true,
      minPrefixLength: 20, maxPrefixLength: 28,
      defaultPrefixLength: 24,
    });
    const a = await ipam.createSubnet({ parentId: vpc.id });
    const b = await ipam.createSubnet({ parentId: vpc.id, prefixLength: 20 });
    const c = await ipam.createSubnet({ parentId: vpc.id, prefixLength: 26, strategy: "best-fit", idempotencyKey: "team-c/app" });
    const d = await ipam.createSubnet({ parentId: vpc.id, cidr: "10.0.200.0/24", gateway: "10.0.200.1" });
    expect([a.cidr, b.cidr, c.cidr, d.cidr]).toEqual(["10.0.0.0/24", "10.0.16.0/20", "10.0.1.0/26", "10.0.200.0/24"]);
    expect((await ipam.allocate({ subnetId: a.id, owner: "team-a/web" })).allocation.addresses).toEqual(["10.0.0.1"]);
    expect((await ipam.listChildren(vpc.id, { limit: 100 })).subnets).toHaveLength(4);
    expect((await ipam.subnetTree(vpc.id)).entries.map((entry) => entry.depth)).toEqual([0, 1, 1, 1, 1]);
    expect(await ipam.usage(vpc.id)).toMatchObject({ childPrefixes: 4, childAddresses: "4672", childSpaceFree: "60864" });
    await ipam.deleteSubnet(b.id);
    expect((await ipam.createSubnet({ parentId: vpc.id, prefixLength: 20 })).cidr).toBe("10.0.16.0/20");
    await expectExactIndexes(vpc.id);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ipam } from "../../provider/store/index.js";
import { SNAPSHOT_FORMAT, validateSnapshot, type Snapshot } from "../../provider/core/snapshot.js";
import { childIndexComparison } from "../helpers/childIndex.js";
import { useTestIpam } from "../helpers/openTestIpam.js";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.js";

const source = useTestIpam("childsnap");
let target: TestDatabase;
let snapshot: Snapshot;
const ids: Record<string, string> = {};

beforeAll(async () => {
  const { ipam } = source;
  const pool = await ipam.createSubnet({ cidr: "10.70.0.0/16", namespace: "tree", childrenOnly: true, minPrefixLength: 20, maxPrefixLength: 26, defaultPrefixLength: 24 });
  const team = await ipam.createSubnet({ parentId: pool.id, prefixLength: 20, childrenOnly: true, defaultPrefixLength: 24, idempotencyKey: "team-a" });
  const app = await ipam.createSubnet({ parentId: team.id, idempotencyKey: "team-a/app" });
  await ipam.allocate({ subnetId: app.id, owner: "app/web", count: 3 });
  await ipam.createSubnet({ parentId: pool.id });
  const mixed = await ipam.createSubnet({ cidr: "10.71.0.0/24", namespace: "tree" });
  await ipam.allocate({ subnetId: mixed.id, owner: "dns", address: "10.71.0.10" });
  await ipam.createSubnet({ parentId: mixed.id, cidr: "10.71.0.128/25" });
  Object.assign(ids, { pool: pool.id, team: team.id, app: app.id, mixed: mixed.id });
  snapshot = await ipam.exportSnapshot();
  target = await createTestDatabase("childsnaptgt");
});
afterAll(async () => {
  await target?.drop();
});

describe("snapshots of child subnets", () => {
  it("export carries rules, childrenOnly and keys; an import restores the tree with exact free space and carving goes on", async () => {
    expect(snapshot.subnets.find((s) => s.id === ids.team)).toMatchObject({
      parentId: ids.pool, childrenOnly: true, defaultPrefixLength: 24, minPrefixLength: null, idempotencyKey: "team-a",
    });
    const ipam = await Ipam.open({ databaseUrl: target.url });
    try {
      await ipam.importSnapshot(snapshot);
      expect({ ...(await ipam.exportSnapshot()), exportedAt: null }).toEqual({ ...snapshot, exportedAt: null });
      for (const id of [ids.pool!, ids.team!, ids.mixed!]) {
        const index = await childIndexComparison(target.url, id);
        expect(index.storedRanges).toEqual(index.expectedRanges);
      }
      expect(await ipam.usage(ids.pool!)).toMatchObject({ childPrefixes: 2, childAddresses: String(4096 + 256), free: "0" });
      expect((await ipam.createSubnet({ parentId: ids.pool! })).cidr).toBe("10.70.17.0/24");
      expect((await ipam.createSubnet({ parentId: ids.team!, idempotencyKey: "team-a/app" })).id).toBe(ids.app);
      expect((await ipam.allocate({ subnetId: ids.mixed!, owner: "next" })).allocation.addresses).toEqual(["10.71.0.1"]);
      expect(await ipam.allocate({ subnetId: ids.mixed!, owner: "x", address: "10.71.0.200" }).catch((error) => error.code)).toBe("ADDRESS_IN_USE");
      for (const id of [ids.pool!, ids.team!, ids.mixed!]) {
        const index = await childIndexComparison(target.url, id);
        expect(index.storedRanges).toEqual(index.expectedRanges);
        expect(index.storedBlocks).toEqual(index.expectedBlocks);
      }
    } finally {
      await ipam.close();
    }
  });

  it("validation refuses what the allocator would never produce, naming the field", () => {
    const subnet = (over: Record<string, unknown>) => ({
      id: "1", namespace: "n", parentId: null, cidr: "10.0.0.0/24", gateway: null, allocationPools: null, reserved: [], description: "", tags: {}, ...over,
    });
    const allocation = (over: Record<string, unknown>) => ({
      id: "1", subnetId: "1", owner: "o", idempotencyKey: null, strategy: "specific", addresses: ["10.0.0.200"], description: "", tags: {}, ...over,
    });
    const cases: [string, unknown, string, string][] = [
      ["parent address inside a child", { subnets: [subnet({}), subnet({ id: "2", parentId: "1", cidr: "10.0.0.128/25" })], allocations: [allocation({})] }, "allocations.0.addresses.0", "is inside child subnet 2 (10.0.0.128/25)"],
      ["address in a children-only subnet", { subnets: [subnet({ childrenOnly: true })], allocations: [allocation({})] }, "allocations.0.subnetId", "is childrenOnly"],
      ["key twice in one namespace", { subnets: [subnet({ idempotencyKey: "k" }), subnet({ id: "2", cidr: "10.0.1.0/24", idempotencyKey: "k" })], allocations: [] }, "subnets.1.idempotencyKey", 'is used twice in namespace "n"'],
      ["rules out of range", { subnets: [subnet({ maxPrefixLength: 24 })], allocations: [] }, "subnets.0.maxPrefixLength", "must be between 25 and 32"],
      ["parent created after its child", { subnets: [subnet({ id: "5" }), subnet({ id: "2", parentId: "5", cidr: "10.0.0.0/25" })], allocations: [] }, "subnets.1.parentId", "must have a lower id"],
      ["key twice under one parent", {
        subnets: [subnet({}), subnet({ id: "2", parentId: "1", cidr: "10.0.0.0/25", idempotencyKey: "k" }), subnet({ id: "3", parentId: "1", cidr: "10.0.0.128/25", idempotencyKey: "k" })],
        allocations: [],
      }, "subnets.2.idempotencyKey", "is used twice under parent 1"],
    ];
    for (const [, input, field, reason] of cases) {
      let issues: { field: string; reason: string }[] = [];
      try {
        validateSnapshot({ format: SNAPSHOT_FORMAT, ...(input as object) });
      } catch (error) {
        issues = (error as { issues: typeof issues }).issues;
      }
      expect(issues.find((issue) => issue.field === field)?.reason).toContain(reason);
    }
  });
});

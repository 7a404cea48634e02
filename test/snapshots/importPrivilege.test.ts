import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ipam } from "../../provider/store/index.js";
import type { Snapshot } from "../../provider/core/snapshot.js";
import { createLeastPrivilegeDatabase, type LeastPrivilegeDatabase } from "../helpers/leastPrivilegeDatabase.js";

// Issue 13 item 10: `ipam import` as the least-privilege role failed with "permission denied for
// sequence" (with --new-ids an unwrapped INTERNAL error), and a snapshot naming subnet id
// 2147483647 moved the id sequence to its end, so no subnet could be created afterwards.

let db: LeastPrivilegeDatabase;
let owner: Ipam;
let app: Ipam;
let snapshot: Snapshot;

beforeAll(async () => {
  db = await createLeastPrivilegeDatabase("importpriv");
  owner = await Ipam.open({ databaseUrl: db.url });
  app = await Ipam.open({ databaseUrl: db.appUrl });
  const subnet = await owner.createSubnet({ cidr: "10.95.0.0/24", namespace: "imp" });
  const allocation = await owner.allocate({ subnetId: subnet.id, owner: "imp/a", count: 3 });
  snapshot = await owner.exportSnapshot({ namespace: "imp" });
  await owner.release(allocation.allocation.id);
  await owner.deleteSubnet(subnet.id);
});
afterAll(async () => {
  await app?.close();
  await owner?.close();
  await db?.drop();
});

/** The snapshot with its subnet renumbered and moved to namespace "imp2" (so it overlaps nothing). */
const withSubnetId = (id: string): Snapshot =>
  JSON.parse(JSON.stringify(snapshot).replaceAll(`"${snapshot.subnets[0]!.id}"`, `"${id}"`).replaceAll('"imp"', '"imp2"')) as Snapshot;

describe("snapshot import and the roles", () => {
  it.each([false, true])("as ipam_app (newIds %s): refused up front, saying it needs the schema owner; nothing written", async (newIds) => {
    const error = await app.importSnapshot(snapshot, { newIds }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "DATABASE_ERROR", sqlState: "42501" });
    expect((error as Error).message).toMatch(/run the import as the schema owner/);
    expect((error as Error).message).not.toContain(db.password);
    expect(await app.listSubnets({ namespace: "imp" })).toEqual([]);
  });

  it("as the schema owner, keeping ids, it imports and the application role then works with what it imported", async () => {
    await owner.importSnapshot(snapshot);
    const subnets = await app.listSubnets({ namespace: "imp" });
    expect(subnets.map((s) => s.cidr)).toContain("10.95.0.0/24");
    const id = subnets.find((s) => s.cidr === "10.95.0.0/24")!.id;
    expect((await app.listAllocations({ subnetId: id })).allocations.map((a) => a.addresses.length)).toEqual([3]);
  });
  it("a subnet id within a million of 2147483647 is refused when ids are kept, naming the way out; with new ids it imports", async () => {
    for (const id of ["2147483647", "2146483648"]) {
      const error = await owner.importSnapshot(withSubnetId(id)).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "INVALID_INPUT" });
      expect((error as Error).message).toContain(`subnet id ${id}`);
      expect((error as Error).message).toContain("--new-ids");
    }
    expect(await owner.listSubnets({ namespace: "imp2" })).toEqual([]);
    const imported = await owner.importSnapshot(withSubnetId("2147483647"), { newIds: true });
    expect(Number(Object.values(imported.subnetIds)[0])).toBeLessThan(1_000);
    // The sequence was not moved: new subnets still get ids.
    expect(Number((await owner.createSubnet({ cidr: "10.96.0.0/24", namespace: "imp2" })).id)).toBeLessThan(1_000);
  });

});

import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ipam, IMPORT_LOCK_KEY, IPAM_LOCK_CLASS } from "../../provider/store/index.js";
import type { Snapshot } from "../../provider/core/snapshot.js";
import { useTestIpam } from "../helpers/openTestIpam.js";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.js";

const source = useTestIpam("snapsrc");
let snapshot: Snapshot;
let target: TestDatabase;

beforeAll(async () => {
  const subnet = await source.ipam.createSubnet({ cidr: "10.90.0.0/24", namespace: "n", gateway: "10.90.0.1" });
  const v6 = await source.ipam.createSubnet({ cidr: "2001:db8:90::/64", namespace: "n" });
  for (let i = 0; i < 20; i += 1) await source.ipam.allocate({ subnetId: subnet.id, owner: `o${i % 3}`, idempotencyKey: `k${i}`, count: 1 + (i % 4) });
  await source.ipam.allocate({ subnetId: v6.id, owner: "v6", strategy: "random", count: 50 });
  snapshot = await source.ipam.exportSnapshot();
  target = await createTestDatabase("snaptgt");
});
afterAll(async () => {
  await target?.drop();
});

describe("importSnapshot", () => {
  it("takes the import lock, not one per new subnet: while another import holds it, it is refused at once and writes nothing", async () => {
    const ipam = await Ipam.open({ databaseUrl: target.url, lockTimeoutMs: 300 });
    const holder = new pg.Client({ connectionString: target.url });
    await holder.connect();
    try {
      await holder.query("BEGIN");
      // A new subnet's own key is not taken (issue 22 item 6: one per subnet ran out of lock memory).
      await holder.query("SELECT pg_advisory_xact_lock($1, $2)", [IPAM_LOCK_CLASS, Number(snapshot.subnets.at(-1)!.id)]);
      await holder.query("SELECT pg_advisory_xact_lock($1, $2)", [IPAM_LOCK_CLASS, IMPORT_LOCK_KEY]);
      const error = await ipam.importSnapshot(snapshot).then(() => null, (e: unknown) => e);
      expect(error).toMatchObject({ code: "CONFLICT", message: expect.stringContaining("another import is running") });
      await holder.query("ROLLBACK");
      expect(await ipam.listSubnets()).toEqual([]);
      expect((await ipam.history()).events).toEqual([]);
    } finally {
      await holder.end();
      await ipam.close();
    }
  });

  it("lands exactly once when several importers race with the same file; the others get CONFLICT", async () => {
    const clients = await Promise.all(Array.from({ length: 4 }, () => Ipam.open({ databaseUrl: target.url })));
    try {
      const outcomes = await Promise.all(clients.map((client) => client.importSnapshot(snapshot).then(() => "ok", (e: { code?: string }) => e.code)));
      expect(outcomes.sort()).toEqual(["CONFLICT", "CONFLICT", "CONFLICT", "ok"]);
      const copy = await clients[0]!.exportSnapshot();
      expect({ ...copy, exportedAt: null }).toEqual({ ...snapshot, exportedAt: null });
      const imports = (await clients[0]!.history({ limit: 1000 })).events.filter((e) => e.action.endsWith(".import"));
      expect(imports).toHaveLength(snapshot.subnets.length + snapshot.allocations.length);
    } finally {
      await Promise.all(clients.map((client) => client.close()));
    }
  });
  it("reads null options (a plain JavaScript caller's 'none') as no options: the file imports, keeping its ids", async () => {
    const fresh = await createTestDatabase("snapnullopts");
    const ipam = await Ipam.open({ databaseUrl: fresh.url });
    try {
      const result = await ipam.importSnapshot(snapshot, null as never);
      expect(Object.entries(result.subnetIds).every(([source, kept]) => source === kept)).toBe(true);
      expect(result.allocations).toBe(snapshot.allocations.length);
    } finally {
      await ipam.close();
      await fresh.drop();
    }
  });
});

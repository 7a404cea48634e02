import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ipam } from "../../provider/store/index.js";
import { BULK_CHUNK } from "../../provider/store/allocations/bulkInChunks.js";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.js";

// Issue 25, scenario 9 on PostgreSQL 18, pass five (migration 0022). With GIN's fastupdate (the
// default when 0008 built audit_event_addresses), each chunk's audit row left its 1,024 addresses
// in the index's pending list, and whichever insert found the list over 4 MB merged ~130 chunks'
// addresses into the index inside its own transaction, under its subnet's lock (on the bench's
// embedded 18: a 764 ms audit INSERT, a 1.2 s hold). Observable here as what a committed bulk leaves
// pending for a later writer (pgstattuple reads the index's metapage): before 0022 every address
// of this bulk (3 × 1,024 + 100) was pending; after it, none. The history by address still finds
// each address through the index.

const COUNT = 3 * BULK_CHUNK + 100;

let db: TestDatabase;
let ipam: Ipam;
let admin: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase("ginpending");
  ipam = await Ipam.open({ databaseUrl: db.url });
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  await admin.query("CREATE EXTENSION IF NOT EXISTS pgstattuple");
});
afterAll(async () => {
  await admin?.end();
  await ipam?.close();
  await db?.drop();
});

async function pendingInAuditIndex(): Promise<number> {
  const { rows } = await admin.query<{ pending: string }>("SELECT pending_tuples::text AS pending FROM pgstatginindex('ipam.audit_event_addresses'::regclass)");
  return Number(rows[0]!.pending);
}

describe("a bulk's audit addresses", () => {
  it("are in the address index when each chunk commits, none left pending for a later writer to merge under its lock", async () => {
    const subnet = await ipam.createSubnet({ cidr: "2001:db8:e::/64", namespace: "audit" });
    const { allocation } = await ipam.allocate({ subnetId: subnet.id, owner: "audit/bulk", strategy: "random", count: COUNT });
    expect(allocation.addresses).toHaveLength(COUNT);
    expect(await pendingInAuditIndex()).toBe(0);
    for (const address of [allocation.addresses[0]!, allocation.addresses[COUNT - 1]!]) {
      const { events } = await ipam.history({ address });
      expect(events.map((event) => event.allocationId)).toContain(allocation.id);
    }
  }, 120_000);
});

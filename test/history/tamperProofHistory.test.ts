import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ipam } from "../../provider/store/index.js";
import { createLeastPrivilegeDatabase, type LeastPrivilegeDatabase } from "../helpers/leastPrivilegeDatabase.js";

// Issue 13 item 4: the application role (roles/ipam_app.sql) forged history rows (any id, time and
// owner; a future id made the next real write fail with 23505) and changed allocations and subnets
// with no history row at all. Every attack below runs as a login that only inherits ipam_app.

let db: LeastPrivilegeDatabase;
let admin: pg.Client;
let app: pg.Client;
let ipam: Ipam;
let subnetId: number;

beforeAll(async () => {
  db = await createLeastPrivilegeDatabase("tamper");
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  app = new pg.Client({ connectionString: db.appUrl });
  await app.connect();
  ipam = await Ipam.open({ databaseUrl: db.appUrl });
  subnetId = Number((await ipam.createSubnet({ cidr: "10.77.0.0/24", namespace: "tamper" })).id);
});
afterAll(async () => {
  await ipam?.close();
  await app?.end();
  await admin?.end();
  await db?.drop();
});

interface EventRow {
  id: string;
  action: string;
  owner: string | null;
  addresses: string[];
  detail: Record<string, unknown>;
  at: Date;
}

/** History rows (read as the administrator) written after `afterId`, oldest first. */
async function eventsAfter(afterId: string): Promise<EventRow[]> {
  const rows = await admin.query<EventRow>(
    "SELECT id::text, action, owner, ARRAY(SELECT host(x) FROM unnest(addresses) x ORDER BY x) AS addresses, detail, at FROM ipam.audit_event e WHERE e.id > $1 ORDER BY e.id",
    [afterId],
  );
  return rows.rows;
}

async function lastEventId(): Promise<string> {
  return (await admin.query<{ id: string }>("SELECT coalesce(max(id), 0)::text AS id FROM ipam.audit_event")).rows[0]!.id;
}

async function refusal(statement: string, values: unknown[] = []): Promise<unknown> {
  return app.query(statement, values).then(
    () => "accepted",
    (error: unknown) => error,
  );
}

describe("the history cannot be forged or bypassed by the application role", () => {
  it("refuses an audit row with a chosen id and time (OVERRIDING SYSTEM VALUE), and any audit row at all", async () => {
    const before = await lastEventId();
    const forged = await refusal(
      `INSERT INTO ipam.audit_event (id, at, action, subnet_id, owner, addresses) OVERRIDING SYSTEM VALUE
       VALUES ($1, '2099-01-01T00:00:00Z', 'allocate', $2, 'someone/else', ARRAY['10.77.0.9'::inet])`,
      [Number(before) + 1, subnetId],
    );
    expect(forged).toMatchObject({ code: "42501" });
    expect(await refusal("INSERT INTO ipam.audit_event (action, subnet_id) VALUES ('release', $1)", [subnetId])).toMatchObject({ code: "42501" });
    // The next real write still gets its row (a forged future id would have made it fail with 23505).
    const allocated = await ipam.allocate({ subnetId: String(subnetId), owner: "tamper/real" });
    const events = await eventsAfter(before);
    expect(events.map((e) => [e.action, e.owner, e.addresses])).toEqual([["allocate", "tamper/real", allocated.allocation.addresses]]);
    expect(events[0]!.at.getFullYear()).toBeLessThan(2099);
  });

  it("a direct UPDATE of an allocation's owner, description or claim is recorded by the database", async () => {
    const { allocation } = await ipam.allocate({ subnetId: String(subnetId), owner: "tamper/victim", count: 2 });
    const before = await lastEventId();
    await app.query("UPDATE ipam.allocation SET owner = 'tamper/mallory' WHERE id = $1", [allocation.id]);
    await app.query("UPDATE ipam.allocation SET description = 'moved', tags = '{\"a\":\"b\"}' WHERE id = $1", [allocation.id]);
    await app.query("UPDATE ipam.allocation SET claim = 'c1' WHERE id = $1", [allocation.id]);
    const events = await eventsAfter(before);
    expect(events.map((e) => [e.action, e.owner, e.detail])).toEqual([
      ["adopt", "tamper/mallory", { previousOwner: "tamper/victim" }],
      ["allocation.update", "tamper/mallory", { changed: ["description", "tags"] }],
      ["claim", "tamper/mallory", {}],
    ]);
  });

  it("a direct UPDATE of a subnet is recorded with the columns it changed", async () => {
    const before = await lastEventId();
    await app.query("UPDATE ipam.subnet SET gateway = '10.77.0.254', description = 'x' WHERE id = $1", [subnetId]);
    expect((await eventsAfter(before)).map((e) => [e.action, e.detail])).toEqual([["subnet.update", { changed: ["description", "gateway"] }]]);
  });

  it("direct inserts and deletes of allocations and their addresses are recorded; moving an address is refused", async () => {
    const before = await lastEventId();
    const { rows } = await app.query<{ id: string }>(
      "INSERT INTO ipam.allocation (subnet_id, owner, strategy) VALUES ($1, 'tamper/direct', 'specific') RETURNING id::text",
      [subnetId],
    );
    const id = rows[0]!.id;
    await app.query("INSERT INTO ipam.allocated_address (subnet_id, address, ordinal, allocation_id) VALUES ($1, '10.77.0.200', 172838344, $2), ($1, '10.77.0.201', 172838345, $2)", [subnetId, id]);
    await app.query("DELETE FROM ipam.allocated_address WHERE subnet_id = $1 AND address = '10.77.0.201'", [subnetId]);
    const moved = await refusal("UPDATE ipam.allocated_address SET allocation_id = allocation_id WHERE subnet_id = $1 AND address = '10.77.0.200'", [subnetId]);
    expect(moved).toMatchObject({ code: "42501" });
    await app.query("DELETE FROM ipam.allocation WHERE id = $1", [id]);
    expect((await eventsAfter(before)).map((e) => [e.action, e.owner, e.addresses])).toEqual([
      ["allocate", "tamper/direct", ["10.77.0.200", "10.77.0.201"]],
      ["shrink", "tamper/direct", ["10.77.0.201"]],
      ["release", "tamper/direct", ["10.77.0.200"]],
    ]);
  });

  it("a namespace cannot be renamed (that would move its subnets without a history row)", async () => {
    expect(await refusal("UPDATE ipam.namespace SET name = 'renamed' WHERE name = 'tamper'")).toMatchObject({ code: "42501" });
  });

  it("the API's own history is unchanged in shape: one row per change, with its addresses", async () => {
    const before = await lastEventId();
    const child = await ipam.createSubnet({ cidr: "10.78.0.0/16", namespace: "tamper", childrenOnly: true, defaultPrefixLength: 24 });
    const carved = await ipam.createSubnet({ parentId: child.id, strategy: "best-fit" });
    const bulk = await ipam.allocate({ subnetId: carved.id, owner: "tamper/bulk", count: 3 });
    await ipam.resizeAllocation({ allocationId: bulk.allocation.id, count: 5 });
    await ipam.resizeAllocation({ allocationId: bulk.allocation.id, count: 1 });
    await ipam.release(bulk.allocation.id);
    await ipam.deleteSubnet(carved.id);
    const events = await eventsAfter(before);
    expect(events.map((e) => `${e.action} ${e.addresses.length}`)).toEqual([
      "subnet.create 0",
      "subnet.create 0",
      "child.carve 0",
      "allocate 3",
      "grow 2",
      "shrink 4",
      "release 1",
      "subnet.delete 0",
      "child.return 0",
    ]);
    expect(events[2]!.detail).toEqual({ childId: carved.id, strategy: "best-fit" });
  });
});

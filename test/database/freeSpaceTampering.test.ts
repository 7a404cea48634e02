import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ipam } from "../../provider/store/index.js";
import { createLeastPrivilegeDatabase, type LeastPrivilegeDatabase } from "../helpers/leastPrivilegeDatabase.js";

// Issue 22 item 4: a login in ipam_app deleted a subnet's free ranges and inserted one starting at
// the gateway; nothing was recorded, and the next next-free request of another owner was handed
// the gateway. Setting ipam.audit_action=import on a direct child insert recorded subnet.import
// with a forged source and no child.carve on the parent. Every attack runs as a login in ipam_app.

let db: LeastPrivilegeDatabase;
let admin: pg.Client;
let app: pg.Client;
let ipam: Ipam;
let subnetId: string;

const GATEWAY = "10.79.0.1";

beforeAll(async () => {
  db = await createLeastPrivilegeDatabase("freespace");
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  app = new pg.Client({ connectionString: db.appUrl });
  await app.connect();
  ipam = await Ipam.open({ databaseUrl: db.appUrl });
  subnetId = (await ipam.createSubnet({ cidr: "10.79.0.0/24", namespace: "freespace", gateway: GATEWAY, reserved: ["10.79.0.16/29"] })).id;
});
afterAll(async () => {
  await ipam?.close();
  await app?.end();
  await admin?.end();
  await db?.drop();
});

const ordinal = async (address: string) => (await app.query<{ o: string }>("SELECT ipam.inet_to_ordinal($1::inet)::text AS o", [address])).rows[0]!.o;

/** Run the statements as the application login in one transaction; the first error, or "accepted" (then committed). */
async function asApp(statements: [string, unknown[]][]): Promise<unknown> {
  await app.query("BEGIN");
  try {
    for (const [text, values] of statements) await app.query(text, values);
    await app.query("COMMIT");
    return "accepted";
  } catch (error) {
    await app.query("ROLLBACK");
    return error;
  }
}

const refusedAsGuard = (constraint: string) => ({ code: "23514", constraint });

describe("the free-space index cannot offer what a subnet keeps back", () => {
  it("a free range rewritten to start at the gateway is refused, and the next allocation is not the gateway", async () => {
    const attack = await asApp([
      ["DELETE FROM ipam.free_range WHERE subnet_id = $1", [subnetId]],
      ["INSERT INTO ipam.free_range (subnet_id, first_ordinal, last_ordinal) VALUES ($1, $2, $3)", [subnetId, await ordinal(GATEWAY), await ordinal("10.79.0.9")]],
    ]);
    expect(attack).toMatchObject(refusedAsGuard("free_space_allocatable"));
    expect(String((attack as Error).message)).toContain(`gateway ${GATEWAY}`);
    const { allocation } = await ipam.allocate({ subnetId, owner: "freespace/victim" });
    expect(allocation.addresses).toEqual(["10.79.0.2"]);
  });

  it.each([
    ["the network address", "10.79.0.0", "10.79.0.0"],
    ["the broadcast address", "10.79.0.255", "10.79.0.255"],
    ["a reserved block", "10.79.0.20", "10.79.0.30"],
  ])("a free range covering %s is refused", async (_what, first, last) => {
    const attack = await asApp([["INSERT INTO ipam.free_range (subnet_id, first_ordinal, last_ordinal) VALUES ($1, $2, $3)", [subnetId, await ordinal(first), await ordinal(last)]]]);
    expect(attack).toMatchObject(refusedAsGuard("free_space_allocatable"));
  });

  it("a free range outside the pools, and one grown by UPDATE over the broadcast address, are refused", async () => {
    const pooled = await ipam.createSubnet({ cidr: "10.80.0.0/24", namespace: "freespace", allocationPools: [{ start: "10.80.0.100", end: "10.80.0.199" }] });
    const outside = await asApp([["INSERT INTO ipam.free_range (subnet_id, first_ordinal, last_ordinal) VALUES ($1, $2, $2)", [pooled.id, await ordinal("10.80.0.50")]]]);
    expect(outside).toMatchObject(refusedAsGuard("free_space_allocatable"));
    const grown = await asApp([["UPDATE ipam.free_range SET last_ordinal = $2 WHERE subnet_id = $1", [pooled.id, await ordinal("10.80.0.255")]]]);
    expect(grown).toMatchObject(refusedAsGuard("free_space_allocatable"));
  });

  it("a free block covering a parent's gateway is refused", async () => {
    const parent = await ipam.createSubnet({ cidr: "10.81.0.0/16", namespace: "freespace", gateway: "10.81.0.1", childrenOnly: true, defaultPrefixLength: 24 });
    await ipam.createSubnet({ parentId: parent.id }); // builds the parent's free blocks
    const attack = await asApp([
      ["DELETE FROM ipam.free_block WHERE subnet_id = $1", [parent.id]],
      ["INSERT INTO ipam.free_block (subnet_id, first_ordinal, last_ordinal, prefix_length) VALUES ($1, $2, $3, 24)", [parent.id, await ordinal("10.81.0.0"), await ordinal("10.81.0.255")]],
    ]);
    expect(attack).toMatchObject(refusedAsGuard("free_space_allocatable"));
  });
});

describe("no allocation ever covers a subnet's network, broadcast, gateway or reserved address", () => {
  it.each([
    ["the gateway", GATEWAY],
    ["the gateway with another mask (another primary key)", `${GATEWAY}/24`],
    ["the network address", "10.79.0.0"],
    ["the broadcast address", "10.79.0.255"],
    ["a reserved address", "10.79.0.17"],
    ["an address of another subnet", "10.99.0.5"],
  ])("a direct insert of %s is refused", async (_what, address) => {
    const attack = await asApp([
      ["INSERT INTO ipam.allocation (subnet_id, owner, strategy) VALUES ($1, 'freespace/mallory', 'specific')", [subnetId]],
      [
        "INSERT INTO ipam.allocated_address (subnet_id, address, ordinal, allocation_id) SELECT $1, $2::inet, ipam.inet_to_ordinal($2::inet), max(id) FROM ipam.allocation WHERE owner = 'freespace/mallory'",
        [subnetId, address],
      ],
    ]);
    expect(attack).toMatchObject(refusedAsGuard("allocated_address_allocatable"));
  });

  it("a subnet cannot take an allocated address as its gateway or reserve it", async () => {
    const { allocation } = await ipam.allocate({ subnetId, owner: "freespace/held" });
    const address = allocation.addresses[0]!;
    expect(await asApp([["UPDATE ipam.subnet SET gateway = $2::inet WHERE id = $1", [subnetId, address]]])).toMatchObject(refusedAsGuard("allocated_address_allocatable"));
    expect(await asApp([["UPDATE ipam.subnet SET reserved = reserved || to_jsonb($2::text) WHERE id = $1", [subnetId, address]]])).toMatchObject(
      refusedAsGuard("allocated_address_allocatable"),
    );
  });
});

describe("the import hint labels a change only for a role allowed to import", () => {
  async function childInsertWithHint(client: pg.Client, cidr: string, parentId: string): Promise<{ id: string; actions: [string, string, Record<string, unknown>][] }> {
    const before = (await admin.query<{ id: string }>("SELECT coalesce(max(id), 0)::text AS id FROM ipam.audit_event")).rows[0]!.id;
    await client.query("BEGIN");
    await client.query(`SELECT set_config('ipam.audit_action', 'import', true), set_config('ipam.audit_detail', '{"sourceId": "forged-42", "strategy": "first-fit"}', true)`);
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO ipam.subnet (namespace_id, parent_id, cidr, pools, pools_explicit)
       SELECT namespace_id, id, $2::cidr, '[]', true FROM ipam.subnet WHERE id = $1 RETURNING id::text`,
      [parentId, cidr],
    );
    await client.query("COMMIT");
    const events = await admin.query<{ action: string; subnet_id: string; detail: Record<string, unknown> }>(
      "SELECT action, subnet_id::text, detail FROM ipam.audit_event WHERE id > $1 ORDER BY id",
      [before],
    );
    return { id: rows[0]!.id, actions: events.rows.map((e) => [e.action, e.subnet_id, e.detail]) };
  }

  it("ipam_app's direct child insert with the hint is recorded as a create and a carve, without the forged source", async () => {
    const parent = await ipam.createSubnet({ cidr: "10.82.0.0/16", namespace: "freespace", childrenOnly: true });
    const forged = await childInsertWithHint(app, "10.82.1.0/24", parent.id);
    expect(forged.actions).toEqual([
      ["subnet.create", forged.id, { namespace: "freespace", parentId: parent.id, strategy: "first-fit" }],
      ["child.carve", parent.id, { childId: forged.id, strategy: "first-fit" }],
    ]);
  });

  it("the schema owner (who may import) still gets its import labelled", async () => {
    const parent = await ipam.createSubnet({ cidr: "10.83.0.0/16", namespace: "freespace", childrenOnly: true });
    const imported = await childInsertWithHint(admin, "10.83.1.0/24", parent.id);
    expect(imported.actions).toEqual([["subnet.import", imported.id, { namespace: "freespace", parentId: parent.id, sourceId: "forged-42", strategy: "first-fit" }]]);
  });
});

import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IPAM_LOCK_CLASS, Ipam } from "../../provider/store/index.js";
import { createLeastPrivilegeDatabase, type LeastPrivilegeDatabase } from "../helpers/leastPrivilegeDatabase.js";
import { statementsAs } from "../helpers/statementsAs.js";

// Issue 22 item 4: a login in ipam_app deleted a subnet's free ranges and inserted one starting at
// the gateway; nothing was recorded, and the next next-free request of another owner was handed
// the gateway. Setting ipam.audit_action=import on a direct child insert recorded subnet.import
// with a forged source and no child.carve on the parent. Every attack runs as a login in ipam_app
// (0010's guards on the free-space indexes, which hold for any writer, are shown with the owner's
// writes: since 0012 the application role cannot write those indexes at all).

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

/** As the application login. */
const asApp = (statements: [string, unknown[]][]) => statementsAs(app, statements);
/**
 * As the schema owner: since migration 0012 the application role may not write the free-space
 * indexes at all, so 0010's guards (which hold whoever writes) are shown with the owner's writes.
 */
const asOwner = (statements: [string, unknown[]][]) => statementsAs(admin, statements);

const refusedAsGuard = (constraint: string) => ({ code: "23514", constraint });

describe("the free-space index cannot offer what a subnet keeps back", () => {
  it("a free range rewritten to start at the gateway is refused, and the next allocation is not the gateway", async () => {
    const attack = await asOwner([
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
    const attack = await asOwner([["INSERT INTO ipam.free_range (subnet_id, first_ordinal, last_ordinal) VALUES ($1, $2, $3)", [subnetId, await ordinal(first), await ordinal(last)]]]);
    expect(attack).toMatchObject(refusedAsGuard("free_space_allocatable"));
  });

  it("a free range outside the pools, and one grown by UPDATE over the broadcast address, are refused", async () => {
    const pooled = await ipam.createSubnet({ cidr: "10.80.0.0/24", namespace: "freespace", allocationPools: [{ start: "10.80.0.100", end: "10.80.0.199" }] });
    const outside = await asOwner([["INSERT INTO ipam.free_range (subnet_id, first_ordinal, last_ordinal) VALUES ($1, $2, $2)", [pooled.id, await ordinal("10.80.0.50")]]]);
    expect(outside).toMatchObject(refusedAsGuard("free_space_allocatable"));
    const grown = await asOwner([["UPDATE ipam.free_range SET last_ordinal = $2 WHERE subnet_id = $1", [pooled.id, await ordinal("10.80.0.255")]]]);
    expect(grown).toMatchObject(refusedAsGuard("free_space_allocatable"));
  });

  it("a free block covering a parent's gateway is refused", async () => {
    const parent = await ipam.createSubnet({ cidr: "10.81.0.0/16", namespace: "freespace", gateway: "10.81.0.1", childrenOnly: true, defaultPrefixLength: 24 });
    await ipam.createSubnet({ parentId: parent.id }); // builds the parent's free blocks
    const attack = await asOwner([
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

// The part of item 4 that 0010 left open: deleting (or shrinking) free-index rows as ipam_app hid
// free space (the subnet looked full) with no audit row. Since migration 0012 the role cannot write
// free_range or free_block; the schema's own functions write them, deriving what they write from
// the subnet's data, so calling them with any arguments only makes the index truer.
describe("the free-space index is written only by the schema's own functions", () => {
  const PERMISSION_DENIED = { code: "42501" };

  async function index(id: string): Promise<{ ranges: string[]; blocks: string[]; built: boolean }> {
    const ranges = await admin.query<{ r: string }>("SELECT first_ordinal || '-' || last_ordinal AS r FROM ipam.free_range WHERE subnet_id = $1 ORDER BY first_ordinal", [id]);
    const blocks = await admin.query<{ b: string }>("SELECT first_ordinal || '/' || prefix_length AS b FROM ipam.free_block WHERE subnet_id = $1 ORDER BY first_ordinal", [id]);
    const built = await admin.query<{ built: boolean }>("SELECT free_blocks_built AS built FROM ipam.subnet WHERE id = $1", [id]);
    return { ranges: ranges.rows.map((row) => row.r), blocks: blocks.rows.map((row) => row.b), built: built.rows[0]!.built };
  }
  const auditCount = async () => (await admin.query<{ n: string }>("SELECT count(*)::text AS n FROM ipam.audit_event")).rows[0]!.n;

  it("ipam_app cannot delete, shrink or truncate a subnet's free ranges: the next allocation still gets the first free address", async () => {
    const subnet = await ipam.createSubnet({ cidr: "10.84.0.0/24", namespace: "freespace", gateway: "10.84.0.1" });
    const before = await index(subnet.id);
    expect(before.ranges.length).toBeGreaterThan(0);
    for (const attack of [
      ["DELETE FROM ipam.free_range WHERE subnet_id = $1", [subnet.id]],
      ["UPDATE ipam.free_range SET first_ordinal = last_ordinal WHERE subnet_id = $1", [subnet.id]],
      ["UPDATE ipam.free_range SET last_ordinal = first_ordinal WHERE subnet_id = $1", [subnet.id]],
      ["TRUNCATE ipam.free_range", []],
    ] as [string, unknown[]][]) {
      expect(await asApp([attack]), attack[0]).toMatchObject(PERMISSION_DENIED);
    }
    expect(await index(subnet.id)).toEqual(before);
    const { allocation } = await ipam.allocate({ subnetId: subnet.id, owner: "freespace/victim" });
    expect(allocation.addresses).toEqual(["10.84.0.2"]);
  });

  it("ipam_app cannot delete or shrink a parent's free blocks, nor mark unbuilt blocks built: the next child still gets the first free block", async () => {
    const parent = await ipam.createSubnet({ cidr: "10.85.0.0/16", namespace: "freespace", childrenOnly: true, defaultPrefixLength: 24 });
    // Not built until the first child operation: marking it built with no blocks would hide every block.
    expect(await asApp([["UPDATE ipam.subnet SET free_blocks_built = true WHERE id = $1", [parent.id]]])).toMatchObject(PERMISSION_DENIED);
    expect((await index(parent.id)).built).toBe(false);
    const first = await ipam.createSubnet({ parentId: parent.id });
    expect(first.cidr).toBe("10.85.0.0/24");
    const before = await index(parent.id);
    expect(before.blocks.length).toBeGreaterThan(0);
    for (const attack of [
      ["DELETE FROM ipam.free_block WHERE subnet_id = $1", [parent.id]],
      ["UPDATE ipam.free_block SET last_ordinal = first_ordinal, prefix_length = 32 WHERE subnet_id = $1", [parent.id]],
      ["TRUNCATE ipam.free_block", []],
    ] as [string, unknown[]][]) {
      expect(await asApp([attack]), attack[0]).toMatchObject(PERMISSION_DENIED);
    }
    expect(await index(parent.id)).toEqual(before);
    expect((await ipam.createSubnet({ parentId: parent.id })).cidr).toBe("10.85.1.0/24");
  });

  it("the index's functions called by ipam_app with hostile arguments change nothing on a consistent subnet, and record nothing", async () => {
    const parent = await ipam.createSubnet({ cidr: "10.86.0.0/16", namespace: "freespace", gateway: "10.86.0.1", reserved: ["10.86.0.16/28"] });
    const child = await ipam.createSubnet({ parentId: parent.id, prefixLength: 24 });
    expect(child.cidr).toBe("10.86.1.0/24");
    await ipam.allocate({ subnetId: parent.id, owner: "freespace/one", count: 3 });
    const other = await ipam.createSubnet({ cidr: "10.87.0.0/24", namespace: "freespace" });
    const before = { parent: await index(parent.id), child: await index(child.id) };
    expect(before.parent.built).toBe(true);
    const events = await auditCount();
    const o = (address: string) => ordinal(address);
    const released: string[] = [];
    for (const address of ["10.86.0.0", "10.86.0.1", "10.86.0.2", "10.86.0.3", "10.86.0.4", "10.86.0.20", "10.86.1.5", "10.86.255.255", "10.87.0.5"]) released.push(await o(address));
    for (const [text, values] of [
      // A window over allocated addresses, the gateway, a reserved block and the child: none of it is free.
      ["SELECT ipam.sync_free_ranges($1, ARRAY[$2, $3]::numeric[], ARRAY[$4, $5]::numeric[])", [parent.id, await o("10.86.0.0"), await o("10.86.1.0"), await o("10.86.0.255"), await o("10.86.1.255")]],
      ["SELECT ipam.rebuild_free_ranges($1)", [parent.id]],
      ["SELECT ipam.rebuild_free_blocks($1)", [parent.id]],
      // The live child's block handed back, and an unrelated subnet taken as a child.
      ["SELECT ipam.return_child_space($1, $2::cidr)", [parent.id, child.cidr]],
      ["SELECT ipam.take_child_space($1, $2)", [parent.id, other.id]],
      // Released addresses (0020) claimed for the allocated ones, the network, gateway and broadcast
      // addresses, a reserved one, the child's and another subnet's: none of them is free.
      ["SELECT ipam.return_released($1, $2::numeric[])", [parent.id, released]],
    ] as [string, unknown[]][]) {
      expect(await asApp([[text, values]]), text).toBe("accepted");
    }
    expect({ parent: await index(parent.id), child: await index(child.id) }).toEqual(before);
    expect(await auditCount()).toBe(events);
    // The helper that writes blocks inside a window without deriving a purpose is the owner's only.
    expect(await asApp([["SELECT ipam.resync_free_blocks($1, 0, 1)", [parent.id]]])).toMatchObject(PERMISSION_DENIED);
  });

  it("a direct call waits for the subnet's lock, so it never interleaves with an operation of the store", async () => {
    const subnet = await ipam.createSubnet({ cidr: "10.91.0.0/24", namespace: "freespace" });
    await admin.query("BEGIN");
    try {
      await admin.query("SELECT pg_advisory_xact_lock($1, $2)", [IPAM_LOCK_CLASS, Number(subnet.id)]);
      for (const call of ["SELECT ipam.rebuild_free_ranges($1)", "SELECT ipam.rebuild_free_blocks($1)"]) {
        const waited = await asApp([["SET LOCAL lock_timeout = '200ms'", []], [call, [subnet.id]]]);
        expect(waited, call).toMatchObject({ code: "55P03" });
      }
    } finally {
      await admin.query("ROLLBACK");
    }
  });
});

// Hold-down rows (migration 0011) are one of the truths the free index is derived from: a hold the
// application role wrote for a free address would keep it out of the free ranges at the next
// derivation (which the role may itself call), with no audit row. Since 0012 a hold is accepted only
// for an address its own transaction released, no longer than the subnet's hold time.
describe("a hold is written only by the release of its address", () => {
  it("ipam_app's forged hold on a free address, and a real hold stretched or moved, are refused; the address stays free", async () => {
    const subnet = await ipam.createSubnet({ cidr: "10.90.0.0/24", namespace: "freespace", releaseHoldSeconds: 60 });
    const { allocation } = await ipam.allocate({ subnetId: subnet.id, owner: "freespace/held", count: 2 });
    await ipam.release(allocation.id);
    const held = await admin.query<{ n: string }>("SELECT count(*)::text AS n FROM ipam.held_address WHERE subnet_id = $1", [subnet.id]);
    expect(held.rows[0]!.n).toBe("2");
    const forged = await asApp([
      [
        "INSERT INTO ipam.held_address (subnet_id, ordinal, address, held_until, owner, allocation_id) VALUES ($1, $2, '10.90.0.50', now() + interval '1 minute', 'freespace/held', $3)",
        [subnet.id, await ordinal("10.90.0.50"), allocation.id],
      ],
      ["SELECT ipam.rebuild_free_ranges($1)", [subnet.id]],
    ]);
    expect(forged).toMatchObject({ code: "23514", constraint: "held_address_released" });
    const stretched = await asApp([["UPDATE ipam.held_address SET held_until = now() + interval '10 years' WHERE subnet_id = $1", [subnet.id]]]);
    expect(stretched).toMatchObject({ code: "23514", constraint: "held_address_released" });
    const moved = await asApp([["UPDATE ipam.held_address SET ordinal = $2 WHERE subnet_id = $1 AND address = '10.90.0.1'", [subnet.id, await ordinal("10.90.0.50")]]]);
    expect(moved).toMatchObject({ code: "23514", constraint: "held_address_released" });
    // The next two allocations skip the two real holds and reach .50 in order: nothing else is held.
    await asApp([["SELECT ipam.rebuild_free_ranges($1)", [subnet.id]]]);
    const next = await ipam.allocate({ subnetId: subnet.id, owner: "freespace/next", count: 48 });
    expect(next.allocation.addresses.at(-1)).toBe("10.90.0.50");
  });
});

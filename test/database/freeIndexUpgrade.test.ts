import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAddress } from "../../provider/core/address.js";
import { Ipam, loadMigrations, migrate } from "../../provider/store/index.js";
import { freeIndexComparison } from "../helpers/freeIndex.js";
import { adminDatabaseUrl, createTestDatabase, type TestDatabase } from "../helpers/testDatabase.js";
import { applyRoleFile, withClient } from "../helpers/leastPrivilegeDatabase.js";

/**
 * Issue 22 item 4 on a database of the previous release: migrated through 0011, with the role file
 * of that release (ipam_app could write free_range and free_block), a subnet and an allocation made
 * by the application role. Migration 0012 then takes the writes away without touching a row, and
 * the store, as the application role, keeps allocating, releasing and carving children.
 */
let db: TestDatabase;
let admin: pg.Client;
let app: pg.Client;
let appUrl: string;
const login = `ipam_login_${randomBytes(6).toString("hex")}`;
const ordinal = (address: string) => parseAddress(address, "a").value.toString();

beforeAll(async () => {
  db = await createTestDatabase("freeupgrade");
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  const earlier = (await loadMigrations()).filter((migration) => migration.version <= 11);
  expect(earlier.map((migration) => migration.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  await admin.query("BEGIN");
  await admin.query("CREATE SCHEMA ipam");
  await admin.query("SET LOCAL search_path TO ipam");
  await admin.query("CREATE TABLE schema_migration (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
  for (const migration of earlier) {
    await admin.query("INSERT INTO schema_migration (version, name) VALUES ($1, $2)", [migration.version, migration.name]);
    await admin.query(migration.sql);
  }
  await admin.query("COMMIT");
  await applyRoleFile(admin);
  // What the role file of the previous release granted.
  await admin.query("GRANT SELECT, INSERT, UPDATE, DELETE ON ipam.free_range, ipam.free_block TO ipam_app");
  const password = randomBytes(12).toString("hex");
  await admin.query(`CREATE ROLE ${admin.escapeIdentifier(login)} LOGIN PASSWORD ${admin.escapeLiteral(password)} IN ROLE ipam_app`);
  const url = new URL(db.url);
  url.username = login;
  url.password = password;
  appUrl = url.toString();
  app = new pg.Client({ connectionString: appUrl });
  await app.connect();
  // A subnet as 0011's code wrote it (10.88.0.0/24, gateway .1, default pool .2-.254), and one
  // next-free allocation by the application role through 0011's allocate_next.
  await admin.query("INSERT INTO ipam.namespace (name) VALUES ('upgrade')");
  await admin.query(
    `INSERT INTO ipam.subnet (namespace_id, cidr, gateway, pools, pools_explicit) SELECT id, '10.88.0.0/24', '10.88.0.1', $1, false FROM ipam.namespace`,
    [JSON.stringify([{ start: "10.88.0.2", end: "10.88.0.254" }])],
  );
  await admin.query("INSERT INTO ipam.free_range (subnet_id, first_ordinal, last_ordinal) SELECT id, $1, $2 FROM ipam.subnet", [ordinal("10.88.0.2"), ordinal("10.88.0.254")]);
  const { rows } = await app.query<{ r_status: string; r_ordinal: string }>(
    "SELECT r_status, r_ordinal::text FROM ipam.allocate_next((SELECT id FROM ipam.subnet), 'upgrade/old', NULL, '', '{}', 1, 5000)",
  );
  expect(rows[0]).toEqual({ r_status: "ok", r_ordinal: ordinal("10.88.0.2") });
});
afterAll(async () => {
  await app?.end();
  await admin?.end();
  await db?.drop();
  await withClient(adminDatabaseUrl(), (client) => client.query(`DROP ROLE IF EXISTS ${client.escapeIdentifier(login)}`));
});

const subnetId = async () => (await admin.query<{ id: string }>("SELECT id::text FROM ipam.subnet WHERE parent_id IS NULL ORDER BY id LIMIT 1")).rows[0]!.id;
const deleteAsApp = async (): Promise<unknown> => {
  await app.query("BEGIN");
  try {
    return (await app.query("DELETE FROM ipam.free_range WHERE subnet_id = $1", [await subnetId()])).rowCount;
  } catch (error) {
    return error;
  } finally {
    await app.query("ROLLBACK");
  }
};

describe("upgrading to 0012: the free-space index leaves the application role's hands", () => {
  it("before: the application role may delete the free ranges (the hole); after: refused, every row kept, the store works as that role", async () => {
    expect(await deleteAsApp()).toBe(1);
    const ranges = async () => (await admin.query("SELECT subnet_id, first_ordinal::text, last_ordinal::text FROM ipam.free_range ORDER BY 1, 2")).rows;
    const before = await ranges();
    // 0012 and the migrations after it (they add tables and leave the free index alone).
    const applied = await migrate(db.url, "ipam");
    expect(applied[0]).toBe("0012_free_index_owner_only");
    expect(applied.every((name) => Number(name.slice(0, 4)) >= 12)).toBe(true);
    expect(await ranges()).toEqual(before);
    expect(await deleteAsApp()).toMatchObject({ code: "42501" });
    // As the role file says: run it again after upgrading (later migrations' tables get their grants).
    await applyRoleFile(admin);

    const ipam = await Ipam.open({ databaseUrl: appUrl });
    try {
      const id = await subnetId();
      const next = await ipam.allocate({ subnetId: id, owner: "upgrade/next" });
      expect(next.allocation.addresses).toEqual(["10.88.0.3"]);
      const bulk = await ipam.allocate({ subnetId: id, owner: "upgrade/bulk", count: 4 });
      expect(bulk.allocation.addresses).toEqual(["10.88.0.4", "10.88.0.5", "10.88.0.6", "10.88.0.7"]);
      const specific = await ipam.allocate({ subnetId: id, owner: "upgrade/specific", address: "10.88.0.100" });
      expect(specific.allocation.addresses).toEqual(["10.88.0.100"]);
      await ipam.allocate({ subnetId: id, owner: "upgrade/random", strategy: "random" });
      await ipam.release(next.allocation.id);
      const subnet = await ipam.getSubnet(id);
      const comparison = await freeIndexComparison(db.url, subnet);
      expect(comparison.stored).toEqual(comparison.expected);
      expect((await ipam.allocate({ subnetId: id, owner: "upgrade/again" })).allocation.addresses).toEqual(["10.88.0.3"]);

      const parent = await ipam.createSubnet({ cidr: "10.89.0.0/16", namespace: "upgrade", childrenOnly: true, defaultPrefixLength: 24 });
      const child = await ipam.createSubnet({ parentId: parent.id });
      expect(child.cidr).toBe("10.89.0.0/24");
      expect((await ipam.deleteSubnet(child.id)).deleted).toBe(true);
      expect((await ipam.createSubnet({ parentId: parent.id })).cidr).toBe("10.89.0.0/24");
    } finally {
      await ipam.close();
    }
  });
});

import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ipam, loadMigrations, migrate } from "../../provider/store/index.js";
import { jsonOf, runCli } from "../helpers/cliRunner.js";
import { databaseFingerprint, tableColumns } from "../helpers/databaseFingerprint.js";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.js";

// Migration 0006 (docs/identity.md): every database gets a random identity at its first migration,
// and a database created by an earlier release gets one when it is upgraded, its data untouched.
let older: TestDatabase;
let fresh: TestDatabase;
const clients: pg.Client[] = [];

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  clients.push(client);
  return client;
}

/** The schema as the release before 0006 left it: migrations 0001-0005, recorded as migrate() records them. */
async function migrateUpTo(client: pg.Client, version: number): Promise<void> {
  await client.query("BEGIN");
  await client.query("CREATE SCHEMA ipam");
  await client.query("SET LOCAL search_path TO ipam");
  await client.query("CREATE TABLE schema_migration (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
  for (const migration of (await loadMigrations()).filter((m) => m.version <= version)) {
    await client.query("INSERT INTO schema_migration (version, name) VALUES ($1, $2)", [migration.version, migration.name]);
    await client.query(migration.sql);
  }
  await client.query("COMMIT");
}

const identities = async (client: pg.Client) => (await client.query<{ id: string }>("SELECT id::text FROM ipam.installation")).rows.map((r) => r.id);

beforeAll(async () => {
  older = await createTestDatabase("identold");
  fresh = await createTestDatabase("identnew");
});
afterAll(async () => {
  for (const client of clients) await client.end();
  await older?.drop();
  await fresh?.drop();
});

describe("database identity (migration 0006)", () => {
  it("a database from before 0006 gets one identity on upgrade; its data is unchanged; later opens keep it", async () => {
    const client = await connect(older.url);
    await migrateUpTo(client, 5);
    // As roles/ipam_app.sql left an older install: new tables get data access by default.
    await client.query("DO $$ BEGIN CREATE ROLE ipam_app NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$");
    await client.query("ALTER DEFAULT PRIVILEGES IN SCHEMA ipam GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ipam_app");
    // Data as the release before 0006 left it, written in that schema's own terms (today's code reads
    // columns later migrations add, so it cannot write into a 0005 schema).
    await client.query("INSERT INTO ipam.namespace (name) VALUES ('default')");
    const subnetRow = await client.query<{ id: number }>(
      `INSERT INTO ipam.subnet (namespace_id, cidr, gateway, pools, pools_explicit)
       SELECT id, '10.0.0.0/24', '10.0.0.1', '[{"start": "10.0.0.2", "end": "10.0.0.254"}]', false FROM ipam.namespace WHERE name = 'default' RETURNING id`,
    );
    const subnetId = subnetRow.rows[0]!.id;
    const allocation = await client.query<{ id: string }>(
      "INSERT INTO ipam.allocation (subnet_id, owner, idempotency_key, strategy) VALUES ($1, 'proj/dev/web', 'proj/dev/web#1', 'sequential') RETURNING id",
      [subnetId],
    );
    await client.query(
      "INSERT INTO ipam.allocated_address (subnet_id, address, ordinal, allocation_id) SELECT $1, ('10.0.0.' || n)::inet, n, $2 FROM generate_series(2, 4) AS n",
      [subnetId, allocation.rows[0]!.id],
    );
    await client.query("INSERT INTO ipam.free_range (subnet_id, first_ordinal, last_ordinal) VALUES ($1, 5, 254)", [subnetId]);
    const columns = await tableColumns(client);
    const data = await databaseFingerprint(client, "ipam", columns);

    expect(await migrate(older.url, "ipam")).toContain("0006_installation_identity");
    const [id] = await identities(client);
    expect(await identities(client)).toHaveLength(1);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(await databaseFingerprint(client, "ipam", columns)).toEqual(data);
    // ...but the identity is read-only for the application role all the same.
    const privileges = await client.query("SELECT has_table_privilege('ipam_app', 'ipam.installation', 'SELECT') AS can_read, has_table_privilege('ipam_app', 'ipam.installation', 'UPDATE') AS can_change");
    expect(privileges.rows[0]).toEqual({ can_read: true, can_change: false });

    const reopened = await Ipam.open({ databaseUrl: older.url });
    expect(await reopened.installationId()).toBe(id);
    await reopened.close();
    expect(await migrate(older.url, "ipam")).toEqual([]);
    expect(await identities(client)).toEqual([id]);
  });

  it("is random per database, never derived from the URL: the same database through another URL has the same one", async () => {
    const ipam = await Ipam.open({ databaseUrl: fresh.url });
    const id = await ipam.installationId();
    await ipam.close();
    expect(id).not.toBe((await identities(await connect(older.url)))[0]);
    const other = new URL(fresh.url);
    other.searchParams.set("application_name", "another-client");
    const again = await Ipam.open({ databaseUrl: other.toString() });
    expect(await again.installationId()).toBe(id);
    await again.close();
  });

  it("`ipam identity` prints it", async () => {
    const ipam = await Ipam.open({ databaseUrl: fresh.url });
    const id = await ipam.installationId();
    await ipam.close();
    const plain = await runCli(["identity"], { IPAM_DATABASE_URL: fresh.url });
    expect([plain.code, plain.stdout.trim()]).toEqual([0, id]);
    expect(jsonOf(await runCli(["identity", "--json"], { IPAM_DATABASE_URL: fresh.url }))).toEqual({ identity: id });
  });

  it("holds exactly one row", async () => {
    const client = await connect(fresh.url);
    await expect(client.query("INSERT INTO ipam.installation DEFAULT VALUES")).rejects.toMatchObject({ code: "23505" });
    await expect(client.query("INSERT INTO ipam.installation (singleton) VALUES (false)")).rejects.toMatchObject({ code: "23514" });
  });
});

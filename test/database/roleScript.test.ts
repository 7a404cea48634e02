import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Ipam } from "../../provider/store/index.js";
import { adminDatabaseUrl, createTestDatabase, type TestDatabase } from "../helpers/testDatabase.js";

// Issue 22 item 8: roles/ipam_app.sql began with CREATE ROLE, which checks CREATEROLE before it
// looks at the name: a schema owner without CREATEROLE got 42501 even when ipam_app existed, and
// under psql's ON_ERROR_STOP none of the later REVOKEs ran. Here an owner that is neither superuser
// nor CREATEROLE migrates its own database and runs the file with psql -v ON_ERROR_STOP=1.
const ROLE_FILE = fileURLToPath(new URL("../../provider/store/schema/roles/ipam_app.sql", import.meta.url));

let db: TestDatabase;
let owner: string;
let ownerUrl: string;
let superuser: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase("rolescript");
  owner = `ipam_owner_${randomBytes(5).toString("hex")}`;
  const password = randomBytes(12).toString("hex");
  superuser = new pg.Client({ connectionString: db.url });
  await superuser.connect();
  await superuser.query(`CREATE ROLE ${owner} LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB PASSWORD '${password}'`);
  await superuser.query(`ALTER DATABASE ${superuser.escapeIdentifier(db.name)} OWNER TO ${owner}`);
  // The role exists already (another IPAM database, or an administrator, created it). A file running
  // beside this one may be creating it at the same instant: that collides on pg_authid's unique index.
  await superuser.query("DO $$ BEGIN CREATE ROLE ipam_app NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$");
  const url = new URL(db.url);
  url.username = owner;
  url.password = password;
  ownerUrl = url.toString();
  await (await Ipam.open({ databaseUrl: ownerUrl })).close();
});
afterAll(async () => {
  await superuser?.end();
  await db?.drop();
  const admin = new pg.Client({ connectionString: adminDatabaseUrl() });
  await admin.connect();
  await admin.query(`DROP ROLE IF EXISTS ${owner}`).finally(() => admin.end());
});

function psql(url: string, file: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", file], { timeout: 60_000 }, (error, _stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stderr: String(stderr) }),
    );
  });
}

it("a schema owner without CREATEROLE runs ipam_app.sql to the end when the role exists (and again)", async () => {
  // What an earlier version of the file granted: the REVOKE further down must take it back.
  await superuser.query(`SET ROLE ${owner}`);
  await superuser.query("GRANT INSERT ON ipam.audit_event TO ipam_app");
  await superuser.query("RESET ROLE");

  for (const round of [1, 2]) {
    const ran = await psql(ownerUrl, ROLE_FILE);
    expect(ran.stderr, `round ${round}`).not.toMatch(/ERROR/);
    expect(ran.code, `round ${round}: ${ran.stderr}`).toBe(0);
  }
  const privileges = await superuser.query<{ insert_audit: boolean; read_audit: boolean; write_allocation: boolean; temporary: boolean }>(
    `SELECT has_table_privilege('ipam_app', 'ipam.audit_event', 'INSERT') AS insert_audit,
            has_table_privilege('ipam_app', 'ipam.audit_event', 'SELECT') AS read_audit,
            has_table_privilege('ipam_app', 'ipam.allocation', 'INSERT') AS write_allocation,
            has_database_privilege('public', current_database(), 'TEMPORARY') AS temporary`,
  );
  expect(privileges.rows[0]).toEqual({ insert_audit: false, read_audit: true, write_allocation: true, temporary: false });
});

import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import pg from "pg";
import { Ipam } from "../../provider/store/index.js";
import { adminDatabaseUrl, createTestDatabase, type TestDatabase } from "./testDatabase.js";

const ROLE_FILE = new URL("../../provider/store/schema/roles/ipam_app.sql", import.meta.url);
const UNIQUE_VIOLATION = "23505";

export interface LeastPrivilegeDatabase extends TestDatabase {
  /** The administrator's URL (the schema owner): migrations, fixtures, direct inspection. */
  readonly url: string;
  /** A login that only inherits ipam_app: what a deployer is handed, and what the provider path uses. */
  readonly appUrl: string;
  readonly login: string;
  readonly password: string;
}

/**
 * A fresh database set up the way the README tells an administrator to: migrate as the owner, apply
 * provider/store/schema/roles/ipam_app.sql, create a LOGIN role IN ROLE ipam_app. The login's name is unique
 * per call (roles are cluster-wide and test files run at once on one server); drop() removes it too.
 */
export async function createLeastPrivilegeDatabase(label: string, password = randomBytes(12).toString("hex")): Promise<LeastPrivilegeDatabase> {
  const db = await createTestDatabase(label);
  const login = `ipam_login_${randomBytes(6).toString("hex")}`;
  try {
    await (await Ipam.open({ databaseUrl: db.url })).close();
    await withClient(db.url, async (admin) => {
      await applyRoleFile(admin);
      await admin.query(`CREATE ROLE ${admin.escapeIdentifier(login)} LOGIN PASSWORD ${admin.escapeLiteral(password)} IN ROLE ipam_app`);
    });
  } catch (error) {
    await db.drop();
    throw error;
  }
  const appUrl = new URL(db.url);
  appUrl.username = login;
  appUrl.password = password;
  return {
    url: db.url,
    name: db.name,
    appUrl: appUrl.toString(),
    login,
    password,
    drop: async () => {
      // The database first: the login's sessions end with it (WITH FORCE) and it owns nothing else.
      // The NOLOGIN group role ipam_app stays, as other IPAM databases on this server may use it.
      await db.drop();
      await withClient(adminDatabaseUrl(), (admin) => admin.query(`DROP ROLE IF EXISTS ${admin.escapeIdentifier(login)}`));
    },
  };
}

/**
 * The file runs as one implicit transaction. Its CREATE ROLE tolerates an existing ipam_app, but two
 * files creating it at the same instant collide on pg_authid's unique index instead; the retry then
 * finds the role and applies the grants.
 */
export async function applyRoleFile(admin: pg.Client, file: URL = ROLE_FILE): Promise<void> {
  const sql = await readFile(file, "utf8");
  try {
    await admin.query(sql);
  } catch (error) {
    if ((error as { code?: string }).code !== UNIQUE_VIOLATION) throw error;
    await admin.query(sql);
  }
}

export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

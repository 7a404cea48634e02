import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import pg from "pg";
import { adminDatabaseUrl } from "./testDatabase.js";

const ROLE_FILE = new URL("../../provider/store/roles/ipam_reader.sql", import.meta.url);
const UNIQUE_VIOLATION = "23505";

/**
 * Set a migrated database up as docs/web.md tells an administrator to: apply roles/ipam_reader.sql as
 * the owner, create a LOGIN role IN ROLE ipam_reader. Returns that login's URL and how to drop it.
 */
export async function createReaderLogin(url: string): Promise<{ readerUrl: string; drop(): Promise<void> }> {
  const login = `ipam_web_${randomBytes(6).toString("hex")}`;
  const password = randomBytes(12).toString("hex");
  const sql = await readFile(ROLE_FILE, "utf8");
  await withClient(url, async (admin) => {
    try {
      await admin.query(sql);
    } catch (error) {
      // Two files creating the cluster-wide role at the same instant: the retry finds it.
      if ((error as { code?: string }).code !== UNIQUE_VIOLATION) throw error;
      await admin.query(sql);
    }
    await admin.query(`CREATE ROLE ${admin.escapeIdentifier(login)} LOGIN PASSWORD ${admin.escapeLiteral(password)} IN ROLE ipam_reader`);
  });
  const readerUrl = new URL(url);
  readerUrl.username = login;
  readerUrl.password = password;
  return {
    readerUrl: readerUrl.toString(),
    // After the database is dropped (its sessions end with it).
    drop: () => withClient(adminDatabaseUrl(), async (admin) => void (await admin.query(`DROP ROLE IF EXISTS ${admin.escapeIdentifier(login)}`))),
  };
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

import { randomBytes } from "node:crypto";
import { applyRoleFile, withClient } from "./leastPrivilegeDatabase.js";
import { adminDatabaseUrl } from "./testDatabase.js";

const ROLE_FILE = new URL("../../provider/store/schema/roles/ipam_reader.sql", import.meta.url);

/**
 * Set a migrated database up as docs/web.md tells an administrator to: apply roles/ipam_reader.sql as
 * the owner, create a LOGIN role IN ROLE ipam_reader. Returns that login's URL and how to drop it.
 */
export async function createReaderLogin(url: string): Promise<{ readerUrl: string; drop(): Promise<void> }> {
  const login = `ipam_web_${randomBytes(6).toString("hex")}`;
  const password = randomBytes(12).toString("hex");
  await withClient(url, async (admin) => {
    await applyRoleFile(admin, ROLE_FILE);
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


import { sql } from "slonik";
import { z } from "zod";
import { type BoundConnection } from "../database/storeDatabase.js";

const installationRow = z.object({ id: z.string() });

/**
 * The database's identity: a random id made by migration 0006 (never derived from the URL), the
 * same however the database is reached. The provider records it in each resource's state.
 */
export async function readInstallationId(db: BoundConnection): Promise<string> {
  const row = await db.one(sql.type(installationRow)`SELECT id::text AS id FROM ${db.t.installation}`);
  return row.id;
}

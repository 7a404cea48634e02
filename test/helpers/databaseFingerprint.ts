import type pg from "pg";

const TABLES = ["namespace", "subnet", "allocation", "allocated_address", "free_range", "free_block", "audit_event"] as const;

/** A digest of every row of every IPAM table: equal fingerprints mean nothing was written. */
export async function databaseFingerprint(client: pg.Client, schema = "ipam"): Promise<Record<string, string>> {
  const s = client.escapeIdentifier(schema);
  const parts = TABLES.map((table) => `(SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM ${s}.${table} t) AS ${table}`);
  const { rows } = await client.query<Record<string, string>>(`SELECT ${parts.join(", ")}`);
  return rows[0]!;
}

import type pg from "pg";

const TABLES = ["namespace", "subnet", "allocation", "allocated_address", "free_range", "free_block", "audit_event"] as const;

/**
 * A digest of every row of every IPAM table: equal fingerprints mean nothing was written. With
 * `columns` (from tableColumns), only those columns count: a migration that adds a column changes
 * every row's text, yet the data that was there may be untouched.
 */
export async function databaseFingerprint(client: pg.Client, schema = "ipam", columns?: Record<string, string[]>): Promise<Record<string, string>> {
  const s = client.escapeIdentifier(schema);
  const rowsOf = (table: string) => (columns?.[table] === undefined ? `${s}.${table}` : `(SELECT ${columns[table]!.map((c) => client.escapeIdentifier(c)).join(", ")} FROM ${s}.${table})`);
  const parts = TABLES.map((table) => `(SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM ${rowsOf(table)} t) AS ${table}`);
  const { rows } = await client.query<Record<string, string>>(`SELECT ${parts.join(", ")}`);
  return rows[0]!;
}

/** Each IPAM table's columns as they are now, in order: to fingerprint the same columns after a migration. */
export async function tableColumns(client: pg.Client, schema = "ipam"): Promise<Record<string, string[]>> {
  const { rows } = await client.query<{ table_name: string; column_name: string }>(
    "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = ANY($2) ORDER BY table_name, ordinal_position",
    [schema, [...TABLES]],
  );
  const result: Record<string, string[]> = {};
  for (const row of rows) (result[row.table_name] ??= []).push(row.column_name);
  return result;
}

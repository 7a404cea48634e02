import { readdir, readFile } from "node:fs/promises";
import pg from "pg";
import { ConfigurationError } from "../core/errors.js";
import { wrapDatabaseError } from "./databaseErrors.js";
import { IPAM_LOCK_CLASS, MIGRATION_LOCK_KEY } from "./lockKeys.js";
import { assertSchemaName } from "./schemaName.js";

const MIGRATIONS_DIR = new URL("./migrations/", import.meta.url);

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** The numbered .sql files shipped with the package, in order. */
export async function loadMigrations(): Promise<Migration[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file)).sort();
  return Promise.all(
    files.map(async (file) => ({
      version: Number(file.slice(0, 4)),
      name: file.slice(5, -4),
      sql: await readFile(new URL(file, MIGRATIONS_DIR), "utf8"),
    })),
  );
}

/**
 * Apply pending migrations in one transaction under an advisory lock, so two processes starting
 * at once migrate once. Each migration records itself before it runs.
 * Uses a plain pg client because migration files hold several statements (simple query protocol).
 * @returns names of the migrations applied now
 * @throws DatabaseUnavailableError, DatabaseError (never with the connection string)
 */
export async function migrate(databaseUrl: string, schema: string): Promise<string[]> {
  assertSchemaName(schema);
  let client: pg.Client | undefined;
  try {
    // Inside the try: a malformed URL throws here, and its error holds the URL.
    client = new pg.Client({ connectionString: databaseUrl });
    client.on("error", () => undefined);
    await client.connect();
    const quoted = client.escapeIdentifier(schema);
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock($1, $2)", [IPAM_LOCK_CLASS, MIGRATION_LOCK_KEY]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
    await client.query(`SET LOCAL search_path TO ${quoted}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migration (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const applied = new Set((await client.query<{ version: number }>("SELECT version FROM schema_migration")).rows.map((row) => row.version));
    const ran: string[] = [];
    for (const migration of await loadMigrations()) {
      if (applied.has(migration.version)) continue;
      await client.query("INSERT INTO schema_migration (version, name) VALUES ($1, $2)", [migration.version, migration.name]);
      await client.query(migration.sql);
      ran.push(`${String(migration.version).padStart(4, "0")}_${migration.name}`);
    }
    await client.query("COMMIT");
    return ran;
  } catch (error) {
    await client?.query("ROLLBACK").catch(() => undefined);
    if (error instanceof ConfigurationError) throw error;
    throw wrapDatabaseError(error, "migrating the schema");
  } finally {
    await client?.end().catch(() => undefined);
  }
}

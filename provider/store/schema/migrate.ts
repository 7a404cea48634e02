import { readdir, readFile } from "node:fs/promises";
import pg from "pg";
import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import { parseConnectionUrl, pgClientConfig, type ConnectionOptions } from "../database/connectionOptions.js";
import { ConfigurationError, DatabaseError } from "../../core/errors.js";
import { failureOf, wrapDatabaseError } from "../database/databaseErrors.js";
import { IPAM_LOCK_CLASS, MIGRATION_LOCK_KEY } from "../database/lockKeys.js";
import { assertSchemaName } from "../database/schemaName.js";

const MIGRATIONS_DIR = new URL("./migrations/", import.meta.url);

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** Migration 0012 derives free space with multiranges (PostgreSQL 14). */
export const MIN_SERVER_VERSION_NUM = 140000;

/**
 * Refuse an older server before any DDL runs, instead of failing midway on a type it lacks.
 * @throws ConfigurationError naming the server's version and the one needed
 */
export async function assertSupportedServer(client: Pick<pg.Client, "query">): Promise<void> {
  const { rows } = await client.query<{ num: string; version: string }>("SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS version");
  if (Number(rows[0]!.num) < MIN_SERVER_VERSION_NUM) {
    throw new ConfigurationError(`PostgreSQL ${rows[0]!.version} is too old: pulumi-ipam needs PostgreSQL 14 or newer (nothing was changed)`);
  }
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
 * at once migrate once. Each migration records itself before it runs. When nothing is pending no
 * DDL is attempted, so a least-privilege role (provider/store/schema/roles/ipam_app.sql) can open a
 * database its administrator migrated.
 * Uses a plain pg client because migration files hold several statements (simple query protocol).
 * @returns names of the migrations applied now
 * @throws DatabaseUnavailableError, DatabaseError (never with the connection string)
 */
export async function migrate(database: string | ConnectionOptions, schema: string): Promise<string[]> {
  assertSchemaName(schema);
  let client: pg.Client | undefined;
  try {
    // The same parser as the pool's: TLS options mean the same to both clients.
    const connection = typeof database === "string" ? parseConnectionUrl(database) : database;
    client = new pg.Client(pgClientConfig(connection, { connectionTimeoutMillis: 10_000 }));
    client.on("error", () => undefined);
    await client.connect();
    const quoted = client.escapeIdentifier(schema);
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock($1, $2)", [IPAM_LOCK_CLASS, MIGRATION_LOCK_KEY]);
    const migrations = await loadMigrations();
    const recorded = await appliedVersions(client, schema, quoted);
    if (migrations.every((migration) => recorded.has(migration.version))) {
      await client.query("COMMIT");
      return [];
    }
    await assertSupportedServer(client);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
    await client.query(`SET LOCAL search_path TO ${quoted}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migration (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const applied = new Set((await client.query<{ version: number }>("SELECT version FROM schema_migration")).rows.map((row) => row.version));
    const ran: string[] = [];
    for (const migration of migrations) {
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
    if (failureOf(error).kind === "insufficient-privilege") {
      throw new DatabaseError(
        `this role may not apply the pending migrations to schema "${schema}": migrate once with the schema owner, then use the least-privilege role (provider/store/schema/roles/ipam_app.sql)`,
        "42501",
        error,
      );
    }
    throw wrapDatabaseError(error, "migrating the schema");
  } finally {
    await client?.end().catch(() => undefined);
  }
}

/** Versions recorded in the schema's migration table (none when the schema or table is missing). */
async function appliedVersions(client: pg.Client, schema: string, quoted: string): Promise<Set<number>> {
  const table = await client.query<{ present: boolean }>("SELECT to_regclass(format('%I.schema_migration', $1::text)) IS NOT NULL AS present", [schema]);
  if (!table.rows[0]?.present) return new Set();
  const rows = await client.query<{ version: number }>(`SELECT version FROM ${quoted}.schema_migration`);
  return new Set(rows.rows.map((row) => row.version));
}

const versionRow = z.object({ version: z.number() });

/**
 * Whether any shipped migration is missing from the schema, read through a connection the caller
 * already holds (the pool's), so opening an up-to-date database costs no extra connection: the
 * migration client (and its lock) is only needed when this says true.
 */
export async function hasPendingMigrations(db: CommonQueryMethods, schema: string): Promise<boolean> {
  assertSchemaName(schema);
  const present = await db.oneFirst(
    sql.type(z.object({ present: z.boolean() }))`SELECT to_regclass(format('%I.schema_migration', ${schema}::text)) IS NOT NULL AS present`,
  );
  if (!present) return true;
  const recorded = new Set(await db.anyFirst(sql.type(versionRow)`SELECT version FROM ${sql.identifier([schema, "schema_migration"])}`));
  return (await loadMigrations()).some((migration) => !recorded.has(migration.version));
}

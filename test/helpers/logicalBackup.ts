import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { checkpointPath, type Stack } from "../../harness/engine/index.js";
import { adminDatabaseUrl } from "./testDatabase.js";

/**
 * What an operator does around a logical backup (issue 23): pg_dump, drop and re-create the database,
 * pg_restore, and `pulumi stack export`. The dump tools must match the server's major version.
 */
const run = promisify(execFile);

/** The directory of this server's pg_dump/pg_restore, or undefined when the machine lacks them. */
export async function dumpTools(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: adminDatabaseUrl() });
  await client.connect();
  const major = Number((await client.query("SHOW server_version_num")).rows[0].server_version_num) / 10000;
  await client.end();
  const candidate = `/usr/lib/postgresql/${Math.floor(major)}/bin`;
  return existsSync(join(candidate, "pg_dump")) ? candidate : undefined;
}

export async function dump(bin: string, url: string, file: string): Promise<string> {
  await run(join(bin, "pg_dump"), ["-Fc", "-d", url, "-f", file]);
  return file;
}

/** Drop the database, create it again, pg_restore the dump into it. */
export async function restore(bin: string, db: { url: string; name: string }, file: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminDatabaseUrl() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE ${admin.escapeIdentifier(db.name)} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(db.name)}`);
  } finally {
    await admin.end();
  }
  await run(join(bin, "pg_restore"), ["-d", db.url, "--exit-on-error", file]);
}

/** `pulumi stack export` of a stack: its checkpoint's resources under `deployment`, secrets opened (the engine model's view). */
export async function exportState(stack: Stack, dir: string): Promise<string> {
  const file = join(dir, `${stack.name}-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(file, JSON.stringify({ version: 3, deployment: { manifest: { time: new Date().toISOString() }, resources: await stack.state() } }));
  return file;
}

/**
 * `pulumi stack export` as the CLI writes it without --show-secrets: the DIY backend's checkpoint as
 * stored, every secret sealed as ciphertext (the secrets provider's state included).
 */
export async function exportSealedState(backendDir: string, project: string, stack: string, dir: string): Promise<string> {
  const stored = JSON.parse(await readFile(checkpointPath(backendDir, project, stack), "utf8"));
  const file = join(dir, `${project}-${stack}-sealed-${Date.now()}.json`);
  await writeFile(file, JSON.stringify({ version: 3, deployment: stored.checkpoint.latest }));
  return file;
}

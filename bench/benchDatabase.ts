import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { startEmbeddedServer } from "../provider/localDatabase/index.js";

export interface BenchDatabase {
  /** URL of the fresh database for this run (holds a password: never print it). */
  readonly url: string;
  readonly serverVersion: string;
  readonly source: "embedded" | "DATABASE_URL";
  close(): Promise<void>;
}

/**
 * A fresh database for one run: on the server named by DATABASE_URL, or on an embedded PostgreSQL
 * started in a temporary directory and removed afterwards.
 */
export async function openBenchDatabase(given: string | undefined): Promise<BenchDatabase> {
  let admin = given;
  let stopServer = async () => undefined as void;
  const source = given === undefined || given === "" ? "embedded" : "DATABASE_URL";
  if (source === "embedded") {
    const parent = await mkdtemp(join(tmpdir(), "ipam-bench-pg-"));
    await chmod(parent, 0o755);
    const server = await startEmbeddedServer({ dataDir: join(parent, "data"), password: randomBytes(12).toString("hex"), persistent: false, initialise: true });
    admin = server.url;
    stopServer = async () => {
      await server.stop();
      await rm(parent, { recursive: true, force: true });
    };
  }
  const name = `ipam_bench_${randomBytes(5).toString("hex")}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  let serverVersion: string;
  try {
    serverVersion = (await client.query<{ version: string }>("SELECT version()")).rows[0]!.version;
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
  const url = new URL(admin!);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    serverVersion,
    source,
    close: async () => {
      const dropper = new pg.Client({ connectionString: admin });
      await dropper.connect();
      try {
        await dropper.query(`DROP DATABASE IF EXISTS ${dropper.escapeIdentifier(name)} WITH (FORCE)`);
      } finally {
        await dropper.end();
      }
      await stopServer();
    },
  };
}

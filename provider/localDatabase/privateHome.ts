import { constants } from "node:fs";
import { lstat, open, realpath, rename, rm } from "node:fs/promises";
import { dirname, join, parse, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { ConfigurationError } from "../core/errors.js";

/** S_ISVTX: in a directory, only an entry's owner may rename or remove it. */
const STICKY = 0o1000;

/**
 * The local database's home holds its superuser password and the binaries root runs: another
 * account must not be able to plant, swap or read anything there (issue 22 item 3). Like OpenSSH's
 * checks on ~/.ssh: the home and every directory above it belong to the invoking user or root and
 * nobody else may write them (a world-writable directory with the sticky bit, such as /tmp, may be
 * above it: there nobody can rename or remove another user's entry); the home is not a link, and a
 * link above it must belong to the user or root (its target is checked the same way).
 * @throws ConfigurationError naming the home and the path at fault
 */
export async function assertPrivateHome(home: string): Promise<void> {
  const uid = process.getuid?.();
  if (uid === undefined) return; // Windows: no owners to check
  const absolute = resolve(home);
  const self = await lstat(absolute);
  if (self.isSymbolicLink()) throw untrusted(home, absolute, "is a symbolic link");
  if (!self.isDirectory()) throw untrusted(home, absolute, "is not a directory");
  if (self.uid !== uid) throw untrusted(home, absolute, `is owned by uid ${self.uid}, not by you (uid ${uid})`);
  if ((self.mode & 0o022) !== 0) throw untrusted(home, absolute, `is writable by others (mode ${(self.mode & 0o7777).toString(8)})`);
  await assertTrustedAncestors(home, dirname(absolute), uid);
  const real = await realpath(absolute);
  if (real !== absolute) await assertTrustedAncestors(home, dirname(real), uid);
}

async function assertTrustedAncestors(home: string, from: string, uid: number): Promise<void> {
  for (let directory = from; ; directory = dirname(directory)) {
    const found = await lstat(directory);
    if (found.uid !== uid && found.uid !== 0) throw untrusted(home, directory, `is owned by uid ${found.uid}, neither you nor root`);
    if (found.isSymbolicLink()) {
      const target = await realpath(directory);
      await assertTrustedAncestors(home, target, uid);
    } else {
      const othersWrite = (found.mode & 0o022) !== 0;
      const sticky = (found.mode & STICKY) !== 0;
      if (othersWrite && !(sticky && found.uid === 0)) throw untrusted(home, directory, `is writable by others (mode ${(found.mode & 0o7777).toString(8)})`);
    }
    if (directory === parse(directory).root) return;
  }
}

function untrusted(home: string, path: string, why: string): ConfigurationError {
  const where = path === resolve(home) ? `IPAM_HOME ${home}` : `IPAM_HOME ${home}: ${path}`;
  return new ConfigurationError(
    `the local database's home cannot be trusted: ${where} ${why}. Use a directory only you (or root) own and write, e.g. the default (unset IPAM_HOME)`,
  );
}

/**
 * Write a file only its owner can read, through a fresh temporary file beside it and a rename: a
 * link or file planted at `path` is replaced, never written through (O_EXCL|O_NOFOLLOW on the
 * temporary name).
 */
export async function writePrivateFile(path: string, content: string): Promise<void> {
  const temporary = join(dirname(path), `.${parse(path).base}.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temporary, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/**
 * A private file's content, or null when there is none: a link, something not a regular file, or a
 * file another user owns is treated as absent (and replaced by the next writePrivateFile).
 */
export async function readPrivateFile(path: string): Promise<string | null> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const found = await handle.stat();
    const uid = process.getuid?.();
    if (!found.isFile() || (uid !== undefined && found.uid !== uid)) return null;
    return await handle.readFile("utf8");
  } finally {
    await handle.close();
  }
}

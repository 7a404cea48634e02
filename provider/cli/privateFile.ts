import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { open, rename, rm, type FileHandle } from "node:fs/promises";
import { InvalidInputError } from "../core/errors.js";

// O_NOFOLLOW: a symbolic link as the last component fails (ELOOP) instead of being followed, so a
// link planted at the target (in a shared directory, say) cannot redirect the write elsewhere.
// O_NONBLOCK: a FIFO planted there fails at once instead of blocking until someone reads it.
// No O_TRUNC: nothing is cut before the checks below have passed.
const FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * Write `content` to `path` readable by this user only (0600): exports and maps hold every owner,
 * address and tag. An existing file is replaced only if it is a plain file of this user with no
 * other hard link (whose other name another user might read); its mode becomes 0600 too.
 * @throws InvalidInputError naming `field` when the path is a symbolic link, not a regular file,
 *   another user's file or hard-linked, or cannot be opened
 */
export async function writePrivateFile(path: string, content: string, field: string): Promise<void> {
  const handle = await openPrivateFile(path, field);
  try {
    await handle.truncate(0);
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
}

/**
 * `writePrivateFile` for content produced a piece at a time (`produce` awaits each `write`, which
 * is the backpressure): the path is checked as there, the content goes to a new 0600 file beside it
 * that is renamed over it once complete, so a failure part-way leaves what was at `path` untouched.
 * @throws InvalidInputError as writePrivateFile; whatever `produce` throws (the partial file removed)
 */
export async function streamPrivateFile<T>(path: string, field: string, produce: (write: (chunk: string) => Promise<void>) => Promise<T>): Promise<T> {
  // The target is only checked here (it may not exist yet: nothing is created at `path` before the rename).
  await (await openPrivateFile(path, field, { create: false }))?.close();
  const partial = `${path}.${randomBytes(6).toString("hex")}.partial`;
  let handle: FileHandle;
  try {
    handle = await open(partial, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  } catch (error) {
    throw refusal(path, field, error);
  }
  try {
    const result = await produce(async (chunk) => {
      await handle.write(chunk);
    });
    await handle.close();
    await rename(partial, path);
    return result;
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(partial, { force: true });
    throw error;
  }
}

function refuser(path: string, field: string) {
  return (reason: string) => InvalidInputError.of(field, `${path} ${reason}; nothing was written`);
}

/** Why `path` could not be opened for writing, as the refusal naming `field`. */
function refusal(path: string, field: string, error: unknown): InvalidInputError {
  const refuse = refuser(path, field);
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ELOOP") return refuse("is a symbolic link, which is never followed: remove it or choose another path");
  if (code === "ENXIO") return refuse("is not a regular file (a FIFO or socket)");
  if (code === "EISDIR") return refuse("is a directory");
  return refuse(`cannot be opened for writing (${code ?? "error"})`);
}

/**
 * Open `path` for writing after the checks writePrivateFile describes; its mode is 0600 from here on.
 * With `create: false`, a path where nothing is yet is not created: null.
 */
async function openPrivateFile(path: string, field: string): Promise<FileHandle>;
async function openPrivateFile(path: string, field: string, options: { create: false }): Promise<FileHandle | null>;
async function openPrivateFile(path: string, field: string, options: { create: boolean } = { create: true }): Promise<FileHandle | null> {
  const refuse = refuser(path, field);
  let handle: FileHandle;
  try {
    handle = await open(path, options.create ? FLAGS : FLAGS & ~constants.O_CREAT, 0o600);
  } catch (error) {
    if (!options.create && (error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw refusal(path, field, error);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw refuse("is not a regular file");
    if (process.getuid !== undefined && stat.uid !== process.getuid()) throw refuse("belongs to another user, who could read what is written");
    if (stat.nlink > 1) throw refuse(`has ${stat.nlink - 1} other hard link(s), under which another user might read it`);
    await handle.chmod(0o600);
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

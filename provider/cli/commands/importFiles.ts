import { constants, createReadStream, rmSync } from "node:fs";
import { mkdtemp, open, rm, stat, type FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidInputError } from "../../core/errors.js";

/**
 * The largest snapshot read. A streamed import no longer holds the file (memory does not depend on
 * this), but one JSON value of the file is held whole while it is parsed: the cap still bounds what
 * a hostile file can make the CLI hold, and keeps the limit users know (512 MiB holds about 1.5M
 * allocations in the export's layout; split bigger exports by namespace).
 */
export const MAX_SNAPSHOT_BYTES = 512 * 2 ** 20;

const tooLarge = (file: string) =>
  InvalidInputError.of("file", `${file} is larger than ${MAX_SNAPSHOT_BYTES / 2 ** 20} MiB, the most one import reads; split the export by namespace (ipam export --namespace)`);

/**
 * A directory of this user's only (mkdtemp: mode 0700, a fresh random name) for what an import
 * keeps while it runs: standard input (read twice, so copied first) and the new-id map. `remove`
 * deletes it and everything in it.
 */
export async function privateTempDir(): Promise<{ readonly path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), "ipam-import-"));
  // Interrupted (Ctrl-C, kill): removed too, then the signal goes on as it would have (the default exit).
  const onSignal = (signal: NodeJS.Signals) => {
    rmSync(path, { recursive: true, force: true });
    stopWatching();
    process.kill(process.pid, signal);
  };
  const stopWatching = () => SIGNALS.forEach((signal) => process.removeListener(signal, onSignal));
  SIGNALS.forEach((signal) => process.once(signal, onSignal));
  return {
    path,
    remove: async () => {
      stopWatching();
      await rm(path, { recursive: true, force: true });
    },
  };
}

const SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/** A new file of mode 0600 in `dir`; never an existing one, never through a link. */
export function createPrivateFile(dir: string, name: string): Promise<FileHandle> {
  return open(join(dir, name), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
}

/**
 * The file to read for `file`: the file itself (refused over MAX_SNAPSHOT_BYTES before reading), or
 * for `-` standard input copied into `dir` (refused once past MAX_SNAPSHOT_BYTES, without reading on).
 * @throws InvalidInputError (field `file`) for an unreadable or oversized input
 */
export async function snapshotInputPath(file: string, dir: string): Promise<string> {
  try {
    if (file !== "-") {
      if ((await stat(file)).size > MAX_SNAPSHOT_BYTES) throw tooLarge(file);
      return file;
    }
    const path = join(dir, "stdin.json");
    const handle = await createPrivateFile(dir, "stdin.json");
    try {
      let bytes = 0;
      for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        if (bytes > MAX_SNAPSHOT_BYTES) {
          process.stdin.destroy();
          throw tooLarge(file);
        }
        await handle.write(chunk);
      }
    } finally {
      await handle.close();
    }
    return path;
  } catch (error) {
    if (error instanceof InvalidInputError) throw error;
    throw InvalidInputError.of("file", `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? "error"}`);
  }
}

/**
 * Source and target ids of allocations imported under new ids, spooled to a private file as the
 * import hands them on (a window at a time), so the `--json` result can list them all after the
 * commit without holding them: each line `    "source": "target"`, as displayJson indents them.
 */
export async function idSpool(dir: string): Promise<{
  readonly add: (pairs: readonly (readonly [string, string])[]) => Promise<void>;
  /** Whether any pair was spooled. */
  readonly any: boolean;
  /** The spooled entries, written to `write` joined as a JSON object's members. */
  readonly copyTo: (write: (chunk: string) => Promise<void>) => Promise<void>;
  readonly close: () => Promise<void>;
}> {
  const handle = await createPrivateFile(dir, "allocation-ids");
  let any = false;
  return {
    add: async (pairs) => {
      if (pairs.length === 0) return;
      await handle.write(`${any ? ",\n" : ""}${pairs.map(([source, target]) => `    ${JSON.stringify(source)}: ${JSON.stringify(target)}`).join(",\n")}`);
      any = true;
    },
    get any() {
      return any;
    },
    copyTo: async (write) => {
      for await (const chunk of createReadStream(join(dir, "allocation-ids"), { encoding: "utf8" })) await write(chunk as string);
    },
    close: () => handle.close(),
  };
}

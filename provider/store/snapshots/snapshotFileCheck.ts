import { InvalidInputError } from "../../core/errors.js";
import { SnapshotChecker, type CheckedSnapshot } from "../../core/snapshotCheck.js";
import { readSnapshotFile } from "./snapshotFileReader.js";

/** A snapshot file that passed every check, and what its second read must find again. */
export interface CheckedSnapshotFile {
  readonly path: string;
  /** How errors name it (`-` for standard input). */
  readonly name: string;
  readonly checked: CheckedSnapshot;
  /** SHA-256 of the bytes that were checked. */
  readonly digest: string;
}

/** Results of checkSnapshotFile: only these are imported from a file (a look-alike is refused). */
const checkedHere = new WeakSet<CheckedSnapshotFile>();

export function isCheckedSnapshotFile(input: unknown): input is CheckedSnapshotFile {
  return typeof input === "object" && input !== null && checkedHere.has(input as CheckedSnapshotFile);
}

/**
 * Check a snapshot file as validateSnapshot checks a parsed one, reading it as a stream (issue 25):
 * memory holds the subnets, compact indexes of the allocations (ids, addresses per subnet, keys)
 * and one chunk of the file, never the file. A file that lists its allocations before its subnets
 * is read a second time for the allocations' own checks (they need every subnet).
 * @throws InvalidInputError naming each bad field (`allocations.7.addresses.0`), or `file` when it is unreadable or not JSON
 */
export async function checkSnapshotFile(path: string, name: string): Promise<CheckedSnapshotFile> {
  const checker = new SnapshotChecker();
  let allocationsFirst = false;
  const read = await readSnapshotFile(path, name, {
    subnet: (raw, index) => checker.subnet(raw, index),
    allocation: (raw, index, top) => {
      // In JSON order: once an allocation comes, a subnets array that began before it is complete.
      if (!allocationsFirst && isObject(top) && "subnets" in top) {
        checker.subnetsDone();
        checker.allocation(raw, index);
      } else {
        allocationsFirst = true;
      }
    },
  });
  checker.subnetsDone();
  if (allocationsFirst) {
    const again = await readSnapshotFile(path, name, { allocation: (raw, index) => checker.allocation(raw, index) });
    if (again.digest !== read.digest) throw changedWhileRead(name);
  }
  const result: CheckedSnapshotFile = { path, name, checked: checker.finish(read.top), digest: read.digest };
  checkedHere.add(result);
  return result;
}

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object" && !Array.isArray(value);

/** The file read twice did not read the same (it was written meanwhile). */
export function changedWhileRead(name: string): InvalidInputError {
  return InvalidInputError.of("file", `${name} changed while it was being read; nothing was imported`);
}

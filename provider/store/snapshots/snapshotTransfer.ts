import { parseInput, subnetFilterSchema } from "../../core/schemas.js";
import { refuseIdsNearLimit, type Snapshot, validatedSnapshot } from "../../core/snapshot.js";
import { type StoreDatabase } from "../database/storeDatabase.js";
import { readSnapshot, writeSnapshot as streamSnapshot, type SnapshotWrite } from "./snapshotExport.js";
import { isCheckedSnapshotFile } from "./snapshotFileCheck.js";
import { importSnapshotFile } from "./snapshotFileImport.js";
import { importSnapshot as loadSnapshot, type ImportOptions, type ImportResult } from "./snapshotImport.js";

/* Export and import of whole snapshots. */

/** Subnets and allocations (all, or of one namespace) as one consistent, versioned JSON snapshot. */
export async function exportSnapshot(db: StoreDatabase, filter: { namespace?: string } = {}): Promise<Snapshot> {
  const { namespace } = parseInput(subnetFilterSchema, filter);
  return db.consistent("exporting", (tx) => readSnapshot(tx, { namespace }));
}

/**
 * `exportSnapshot` written to `write` as it is read, in the same text as `displayJson(snapshot, 2)`:
 * memory does not grow with the number of allocations. `write` resolving is the backpressure.
 * @returns how many subnets and allocations were written
 * @throws what `write` throws, as it is (a full disk is not a database error); InvalidInputError
 */
export async function writeSnapshot(db: StoreDatabase, filter: { namespace?: string }, write: SnapshotWrite): Promise<{ subnets: number; allocations: number }> {
  const { namespace } = parseInput(subnetFilterSchema, filter);
  const failed: { error?: unknown } = {};
  const sink: SnapshotWrite = (chunk) => write(chunk).catch((error: unknown) => Promise.reject((failed.error = error)));
  try {
    return await db.consistent("exporting", (tx) => streamSnapshot(tx, { namespace }, sink));
  } catch (error) {
    throw "error" in failed ? failed.error : error;
  }
}

/**
 * Load a snapshot all-or-nothing: validated like every core request (once: a result of
 * validateSnapshot is taken as it is), written in one transaction holding the import lock, ids kept unless `newIds`.
 * A CheckedSnapshotFile (checkSnapshotFile's result, what `ipam import` passes) is read again from
 * its file and written a window at a time: memory does not grow with the file, and its result
 * holds no allocation id map (`onAllocationIds` gets it under `newIds`).
 * @throws InvalidInputError naming each bad field, SnapshotConflictError, OverlapError
 */
export async function importSnapshot(db: StoreDatabase, input: unknown, options: Partial<ImportOptions> = {}): Promise<ImportResult> {
  // `?.`: a caller from plain JavaScript may pass null for "no options", as subnetMap's options allow.
  const importOptions = {
    newIds: options?.newIds ?? false,
    ...(options?.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options?.onAllocationIds ? { onAllocationIds: options.onAllocationIds } : {}),
  };
  if (isCheckedSnapshotFile(input)) {
    if (!importOptions.newIds) refuseIdsNearLimit(input.checked);
    return db.gate.run("importing a snapshot", () => importSnapshotFile(db.pool, db.t, db.settings, input, importOptions));
  }
  // Validated once: a result of validateSnapshot is taken as it is.
  const snapshot = validatedSnapshot(input);
  if (!importOptions.newIds) refuseIdsNearLimit(snapshot);
  return db.gate.run("importing a snapshot", () => loadSnapshot(db.pool, db.t, db.settings, snapshot, importOptions));
}

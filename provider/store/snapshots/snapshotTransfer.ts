import { parseInput, subnetFilterSchema } from "../../core/schemas.js";
import { refuseIdsNearLimit, type Snapshot, validatedSnapshot } from "../../core/snapshot.js";
import { type StoreDatabase } from "../database/storeDatabase.js";
import { readSnapshot, writeSnapshot as streamSnapshot, type SnapshotWrite } from "./snapshotExport.js";
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
 * @throws InvalidInputError naming each bad field, SnapshotConflictError, OverlapError
 */
export async function importSnapshot(db: StoreDatabase, input: unknown, options: Partial<ImportOptions> = {}): Promise<ImportResult> {
  // Validated once: the CLI passes validateSnapshot's result, which is taken as it is.
  const snapshot = validatedSnapshot(input);
  if (options.newIds !== true) refuseIdsNearLimit(snapshot);
  const importOptions = { newIds: options.newIds ?? false, ...(options.onProgress ? { onProgress: options.onProgress } : {}) };
  return db.gate.run("importing a snapshot", () => loadSnapshot(db.pool, db.t, db.settings, snapshot, importOptions));
}

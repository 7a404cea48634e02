/**
 * snapshots/: a whole database (or one namespace) as a versioned JSON snapshot. Exporting (in one
 * piece or streamed) and importing all-or-nothing under each new subnet's lock.
 */
export { exportSnapshot, importSnapshot, writeSnapshot } from "./snapshotTransfer.js";
export type { SnapshotWrite } from "./snapshotExport.js";
export type { ImportOptions, ImportResult } from "./snapshotImport.js";
export { checkSnapshotFile } from "./snapshotFileCheck.js";
export type { CheckedSnapshotFile } from "./snapshotFileCheck.js";

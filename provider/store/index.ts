/**
 * `pulumi-ipam/store`: the allocation core over PostgreSQL. Ipam.ts is its public face; the work
 * lives in one folder per capability (database/, schema/, claims/, space/, subnets/, children/,
 * allocations/, reports/, snapshots/), each opening with a comment saying what lives there.
 */
export { Ipam, type IpamOptions } from "./Ipam.js";
export { migrate, loadMigrations } from "./schema/index.js";
export { DEFAULT_SCHEMA, IMPORT_LOCK_KEY, IPAM_LOCK_CLASS, redact, wrapDatabaseError } from "./database/index.js";
export type { MapChildBlock, SubnetMapData, SubnetTreeReport, SubnetUsageReport } from "./reports/index.js";
export { checkSnapshotFile } from "./snapshots/index.js";
export type { CheckedSnapshotFile, ImportOptions, ImportResult } from "./snapshots/index.js";
export type { SubnetHolders } from "./subnets/index.js";

export { Ipam, type IpamOptions } from "./Ipam.js";
export { migrate, loadMigrations } from "./schema/migrate.js";
export { DEFAULT_SCHEMA } from "./database/schemaName.js";
export { IPAM_LOCK_CLASS } from "./database/lockKeys.js";
export { redact, wrapDatabaseError } from "./database/databaseErrors.js";
export type { SubnetUsageReport } from "./reports/usageQueries.js";
export type { SubnetTreeReport } from "./reports/usageTree.js";
export type { MapChildBlock, SubnetMapData } from "./reports/subnetMapData.js";
export type { ImportResult } from "./snapshots/snapshotImport.js";

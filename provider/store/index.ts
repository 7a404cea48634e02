export { Ipam, type IpamOptions } from "./Ipam.js";
export { migrate, loadMigrations } from "./migrate.js";
export { DEFAULT_SCHEMA } from "./schemaName.js";
export { IPAM_LOCK_CLASS } from "./lockKeys.js";
export { redact, wrapDatabaseError } from "./databaseErrors.js";
export type { SubnetUsageReport } from "./usageQueries.js";
export type { SubnetTreeReport } from "./usageTree.js";
export type { MapChildBlock, SubnetMapData } from "./subnetMapData.js";
export type { ImportResult } from "./snapshotImport.js";

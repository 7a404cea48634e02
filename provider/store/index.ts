export { Ipam, type IpamOptions } from "./Ipam.js";
export { migrate, loadMigrations } from "./migrate.js";
export { DEFAULT_SCHEMA } from "./schemaName.js";
export { IPAM_LOCK_CLASS } from "./lockKeys.js";
export { redact, wrapDatabaseError } from "./databaseErrors.js";

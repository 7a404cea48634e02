/**
 * database/: how the store talks to PostgreSQL, and nothing about IP addresses. The connection
 * URL and pool, the gate bounding connections, the schema's table names bound once to each
 * transaction (StoreDatabase, BoundConnection), transactions with their timeouts and subnet
 * advisory locks, and the one map from SQLSTATE to the store's errors (kindOfState).
 */
export { ConnectionGate } from "./storeDatabase.js";
export { parseConnectionUrl } from "./connectionOptions.js";
export { redact, wrapDatabaseError } from "./databaseErrors.js";
export { createDatabasePool, DEFAULT_MAX_CONNECTIONS } from "./databasePool.js";
export { IMPORT_LOCK_KEY, IPAM_LOCK_CLASS } from "./lockKeys.js";
export { DEFAULT_SCHEMA } from "./schemaName.js";
export { StoreDatabase } from "./storeDatabase.js";
export { tablesFor } from "./tables.js";

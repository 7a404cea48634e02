/**
 * Advisory-lock keyspace: pg_advisory_xact_lock(IPAM_LOCK_CLASS, key). The class is fixed for this
 * project so our locks never collide with another application's; key 0 serializes migrations and
 * every other key is a subnet id.
 */
export const IPAM_LOCK_CLASS = 0x4950_4d; // "IPM"
export const MIGRATION_LOCK_KEY = 0;
/** One import at a time (a negative key: never a subnet id). */
export const IMPORT_LOCK_KEY = -1;

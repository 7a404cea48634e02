/**
 * schema/: what the database holds and how it gets there. The numbered migrations (migrations/,
 * shipped in the package and applied in order under a lock), the least-privilege role
 * (roles/ipam_app.sql), and the installation's identity.
 */
export { readInstallationId } from "./installation.js";
export { hasPendingMigrations, loadMigrations, migrate } from "./migrate.js";

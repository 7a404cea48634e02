-- Least-privilege role for everything that uses pulumi-ipam (the Pulumi provider, the CLI, your own
-- services): it can read and change IPAM data in schema "ipam" and nothing else. No DDL, no other
-- schema, and it can only read the audit history (the database writes it).
--
-- 1. Migrate once with the owner of the schema (an administrator), e.g. Ipam.open({ databaseUrl: adminUrl }).
-- 2. As that same owner, run this file in the IPAM database:  psql "$ADMIN_URL" -f ipam_app.sql
--    Run it again after upgrading pulumi-ipam: a new migration may add tables.
-- 3. Give each deployer a login that inherits the role, and hand out only that URL:
--      CREATE ROLE ci_deployer LOGIN PASSWORD '...' IN ROLE ipam_app;
--
-- With another schema name (IpamOptions.schema), replace "ipam" below.
-- On PostgreSQL 14 and older every role may create objects in schema public; PostgreSQL 15 and
-- later do not. If yours is older, consider: REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- Roles are cluster-wide: another IPAM database (or an administrator) may have created it already.
-- Look first: CREATE ROLE checks CREATEROLE before it checks the name, so a schema owner without
-- CREATEROLE would fail here (42501) even when the role exists, and under ON_ERROR_STOP nothing
-- below would run. (duplicate_object still covers a concurrent run creating it meanwhile.)
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'ipam_app') THEN
    CREATE ROLE ipam_app NOLOGIN;
  END IF;
EXCEPTION WHEN duplicate_object THEN
  NULL;
END
$$;

GRANT USAGE ON SCHEMA ipam TO ipam_app;

-- Opening a database checks which migrations ran (and runs none when nothing is pending).
GRANT SELECT ON ipam.schema_migration TO ipam_app;

-- The database's identity (migration 0006): read with every resource the provider touches, never written.
REVOKE ALL ON ipam.installation FROM ipam_app;
GRANT SELECT ON ipam.installation TO ipam_app;

-- Namespaces are created on first use (INSERT ... ON CONFLICT DO UPDATE needs UPDATE).
GRANT SELECT, INSERT, UPDATE ON ipam.namespace TO ipam_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ipam.subnet, ipam.allocation, ipam.allocated_address TO ipam_app;
-- The free-space indexes (free_range, free_block) are read by every pick and written only by the
-- schema's own functions (migration 0012: SECURITY DEFINER, run as this owner, deriving what they
-- write from the subnet's data), so this role cannot hide free space. (REVOKE: earlier versions of
-- this file granted writes.)
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ipam.free_range, ipam.free_block FROM ipam_app;
GRANT SELECT ON ipam.free_range, ipam.free_block TO ipam_app;
-- Addresses held back after a release (migration 0011, hold-down) are written by releases and picks.
GRANT SELECT, INSERT, UPDATE, DELETE ON ipam.held_address TO ipam_app;
-- Tables of migrations 0013 and later are granted when present, so this file also runs against a
-- schema an earlier release migrated (run it again after migrating; 0014 grants its table itself).
-- Bulk allocations being written in chunks (migration 0013). Child blocks held back after a
-- child's delete (migration 0014): written by that delete; a guard trigger accepts a held block
-- only for a child block this transaction released (or an import).
DO $$
BEGIN
  IF to_regclass('ipam.pending_allocation') IS NOT NULL THEN
    GRANT SELECT, INSERT, UPDATE, DELETE ON ipam.pending_allocation TO ipam_app;
  END IF;
  IF to_regclass('ipam.held_block') IS NOT NULL THEN
    GRANT SELECT, INSERT, UPDATE, DELETE ON ipam.held_block TO ipam_app;
  END IF;
END
$$;

-- The write fence (migration 0011): read by every write, never written or re-opened by this role.
REVOKE ALL ON ipam.write_fence FROM ipam_app;
GRANT SELECT ON ipam.write_fence TO ipam_app;
REVOKE EXECUTE ON FUNCTION ipam.record_write_fence(text), ipam.advance_ids_past(bigint, integer) FROM ipam_app;

-- History: written by the database itself (triggers of migration 0007, run as the schema owner)
-- with every change to subnets and allocations. The role reads it and never writes it, so it can
-- neither forge an event nor choose an event's id or time. (REVOKE: earlier versions of this file
-- granted INSERT.)
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ipam.audit_event FROM ipam_app;
GRANT SELECT ON ipam.audit_event TO ipam_app;

-- The role never needs temporary tables, and a temporary table is a way to shadow a table name.
-- The TEMPORARY privilege is PUBLIC's by default, so it is revoked from PUBLIC in this database
-- (keep IPAM in its own database; the owner keeps it).
DO $$
BEGIN
  EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
END
$$;

GRANT EXECUTE ON FUNCTION ipam.ordinal_to_inet(numeric, integer), ipam.inet_to_ordinal(inet) TO ipam_app;

-- Identity columns need no sequence grants. Tables a later migration adds (run by this same owner)
-- get plain data access without re-running this file.
ALTER DEFAULT PRIVILEGES IN SCHEMA ipam GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ipam_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA ipam GRANT EXECUTE ON FUNCTIONS TO ipam_app;

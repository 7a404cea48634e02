-- Read-only role for `ipam serve`, dashboards and reports: it can read IPAM data in schema "ipam"
-- and change nothing. No INSERT, UPDATE, DELETE, TRUNCATE, no DDL, no temporary tables, no other
-- schema. The web view only reads anyway; this role makes that a property of the database, so a
-- bug or a stolen session of the view cannot write either.
--
-- 1. Migrate once with the owner of the schema (an administrator), as for ipam_app.sql.
-- 2. As that same owner, run this file in the IPAM database:  psql "$ADMIN_URL" -f ipam_reader.sql
--    Run it again after upgrading pulumi-ipam: a new migration may add tables.
-- 3. Give the web view a login that inherits the role, and start it with that URL:
--      CREATE ROLE ipam_web LOGIN PASSWORD '...' IN ROLE ipam_reader;
--      ALTER ROLE ipam_web SET default_transaction_read_only = on;   -- a second lock on the door
--      IPAM_DATABASE_URL=postgres://ipam_web:...@db/ipam ipam serve
--
-- With another schema name (IpamOptions.schema), replace "ipam" below.

DO $$
BEGIN
  CREATE ROLE ipam_reader NOLOGIN;
EXCEPTION WHEN duplicate_object THEN
  NULL; -- roles are cluster-wide: another IPAM database may have created it already
END
$$;

GRANT USAGE ON SCHEMA ipam TO ipam_reader;
-- Everything the reads touch, including the migration record and the audit history; nothing else.
GRANT SELECT ON ALL TABLES IN SCHEMA ipam TO ipam_reader;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA ipam FROM ipam_reader;
-- The address conversions the reads call. (The allocation function of migration 0003 writes, but
-- only with the caller's rights, which here are SELECT only.)
GRANT EXECUTE ON FUNCTION ipam.ordinal_to_inet(numeric, integer), ipam.inet_to_ordinal(inet) TO ipam_reader;

-- No temporary tables (the same reasoning as ipam_app.sql: a temporary table can shadow a name).
DO $$
BEGIN
  EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
END
$$;

-- Tables a later migration adds (run by this same owner) are readable without re-running this file.
ALTER DEFAULT PRIVILEGES IN SCHEMA ipam GRANT SELECT ON TABLES TO ipam_reader;

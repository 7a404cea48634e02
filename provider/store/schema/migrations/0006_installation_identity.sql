-- Database identity (issue 12): every IPAM database gets a random installation id the first time it
-- is migrated (an existing database gets one now, on upgrade). The Pulumi provider records it in
-- every resource's state and refuses to read, update or delete a resource through a database with
-- another id, so a stack pointed at the wrong database (a forgotten IPAM_DATABASE_URL, the local
-- embedded fallback, a second server whose ids overlap) fails clearly instead of touching someone
-- else's rows. Random, never derived from the URL: the same database reached through another host
-- name, port or login is still the same database, and a URL must never reach state. A copy made
-- with pg_dump or a replica keeps the id (it is the same data); see docs/identity.md.
-- gen_random_uuid() is built in since PostgreSQL 13 and draws from pg_strong_random (a CSPRNG).
-- One row only: the primary key on a constant column that must be true.
CREATE TABLE installation (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO installation DEFAULT VALUES;

-- Read-only for the least-privilege role: its default privileges (roles/ipam_app.sql) would give it
-- write access to a new table, and an application that can rewrite the id can defeat the check.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ipam_app') THEN
    REVOKE ALL ON installation FROM ipam_app;
    GRANT SELECT ON installation TO ipam_app;
  END IF;
END
$$;

-- Issue 23: a database restored from a backup or failed over fails closed, and released addresses
-- can be held back before they are handed out again. docs/operations.md tells operators what to do.
--
-- Part 1, the write fence. One row records where this database last wrote from:
--   * written_xmin: the transaction id that wrote the row. PostgreSQL stores it in the row's xmin
--     system column ("the identity (transaction ID) of the inserting transaction for this row
--     version", docs: ddl-system-columns), and freezing keeps it. A logical copy (pg_dump and
--     pg_restore, COPY, logical replication) re-inserts the row in another transaction, so xmin no
--     longer equals written_xmin; a physical copy (base backup, standby, PITR) keeps both.
--   * database_oid: a database made by CREATE DATABASE (restoring into a new database) gets a new oid.
--   * timeline_id: a standby promoted after a failover, and every archive recovery (a restored base
--     backup, point-in-time recovery), continues on a new timeline (docs: continuous-archiving,
--     "Timelines"; warm-standby, "Failover"). The timeline is the first 8 hex digits of the current
--     WAL file's name, which needs no file read (pg_control_checkpoint() reads pg_control).
--   * system_identifier: for the operator only (it changes with initdb and pg_upgrade, stays the
--     same on a base backup or standby), never compared.
-- Any difference means this database may have lost commits that stacks already hold in their
-- state: statement triggers on the tables that hand out, release and change addresses refuse
-- every write (SQLSTATE IPR23, DATABASE_RESTORED) until an operator re-records the fence with
-- `ipam reconcile` or `ipam db accept-restore`. Reads are untouched.
-- failover_policy 'synchronous' (`ipam db failover-policy synchronous`) is the operator's word that
-- every standby that can be promoted is synchronous (nothing acknowledged is lost by a promotion):
-- then a new timeline alone is accepted by the first write after it, and audited.
CREATE TABLE write_fence (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  written_xmin bigint NOT NULL,
  database_oid oid NOT NULL,
  timeline_id integer NOT NULL,
  system_identifier text,
  failover_policy text NOT NULL DEFAULT 'manual' CONSTRAINT write_fence_policy CHECK (failover_policy IN ('manual', 'synchronous')),
  recorded_at timestamptz NOT NULL DEFAULT now(),
  recorded_by text NOT NULL
);

CREATE FUNCTION current_timeline() RETURNS integer
LANGUAGE sql VOLATILE
AS $$ SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::integer $$;

CREATE FUNCTION current_database_oid() RETURNS oid
LANGUAGE sql STABLE
AS $$ SELECT oid FROM pg_database WHERE datname = current_database() $$;

-- pg_control_system() may be refused to the owner on a managed server; the identifier is only shown.
CREATE FUNCTION current_system_identifier() RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
  RETURN (SELECT system_identifier::text FROM pg_control_system());
EXCEPTION WHEN OTHERS THEN
  RETURN NULL;
END
$$;

-- What the fence sees, or NULL when this database is the one that last wrote:
-- {"kind": "copied"|"timeline"|"missing", ...recorded and current values}.
CREATE FUNCTION write_fence_problem() RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  f record;
  v_timeline integer := current_timeline();
  v_oid oid := current_database_oid();
BEGIN
  SELECT w.*, w.xmin::text::bigint AS row_xmin INTO f FROM write_fence w;
  IF NOT FOUND THEN
    RETURN jsonb_build_object('kind', 'missing');
  END IF;
  IF f.row_xmin = f.written_xmin AND f.database_oid = v_oid AND f.timeline_id = v_timeline THEN
    RETURN NULL;
  END IF;
  RETURN jsonb_build_object(
    'kind', CASE WHEN f.row_xmin <> f.written_xmin OR f.database_oid <> v_oid THEN 'copied' ELSE 'timeline' END,
    'recordedAt', f.recorded_at,
    'recordedTimeline', f.timeline_id,
    'currentTimeline', v_timeline,
    'sameDatabaseOid', f.database_oid = v_oid,
    'rowRewritten', f.row_xmin <> f.written_xmin,
    'policy', f.failover_policy
  );
END
$$;

-- Re-record the fence where this database is now; returns what was detected before (NULL: nothing).
-- The second UPDATE copies the row's own xmin, which is the writing (sub)transaction's id.
CREATE FUNCTION record_write_fence(p_by text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
  v_problem jsonb := write_fence_problem();
BEGIN
  INSERT INTO write_fence AS w (written_xmin, database_oid, timeline_id, system_identifier, recorded_by)
  VALUES (0, current_database_oid(), current_timeline(), current_system_identifier(), p_by)
  ON CONFLICT (singleton) DO UPDATE
    SET written_xmin = 0, database_oid = excluded.database_oid, timeline_id = excluded.timeline_id,
        system_identifier = excluded.system_identifier, recorded_at = now(), recorded_by = excluded.recorded_by;
  UPDATE write_fence SET written_xmin = xmin::text::bigint;
  RETURN v_problem;
END
$$;

SELECT record_write_fence('migration');

-- Statement trigger: refuse the write while the fence sees a restore. With the 'synchronous'
-- policy a new timeline alone is accepted here, once (concurrent writers wait on the row lock and
-- then find it recorded), and audited.
CREATE FUNCTION refuse_write_after_restore() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
  v_problem jsonb;
BEGIN
  -- The common case in one query (a group-commit batch fires this once per request), and once
  -- it passed, not again in the same transaction. The transaction-local marker is only a cache:
  -- a client that forges it skips its own check, which it could also do by not using pulumi-ipam.
  IF current_setting('ipam.fence_passed', true) = pg_current_xact_id()::text THEN
    RETURN NULL;
  END IF;
  IF EXISTS (SELECT 1 FROM write_fence w
             WHERE w.xmin::text::bigint = w.written_xmin
               AND w.database_oid = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
               AND w.timeline_id = ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::integer) THEN
    PERFORM set_config('ipam.fence_passed', pg_current_xact_id()::text, true);
    RETURN NULL;
  END IF;
  v_problem := write_fence_problem();
  IF v_problem IS NULL THEN
    RETURN NULL;
  END IF;
  IF v_problem->>'kind' = 'timeline' AND v_problem->>'policy' = 'synchronous' THEN
    UPDATE write_fence SET timeline_id = current_timeline(), recorded_at = now(), recorded_by = 'failover', written_xmin = 0
    WHERE timeline_id <> current_timeline();
    IF FOUND THEN
      UPDATE write_fence SET written_xmin = xmin::text::bigint;
      INSERT INTO audit_event (action, detail) VALUES ('database.failover', jsonb_build_object('detected', v_problem));
    END IF;
    RETURN NULL;
  END IF;
  RAISE EXCEPTION 'DATABASE_RESTORED: %', CASE v_problem->>'kind'
      WHEN 'copied' THEN 'this database was restored from a logical backup (pg_dump/pg_restore) or copied: its write fence was rewritten'
      WHEN 'timeline' THEN format('the server moved from timeline %s to %s (a promoted standby, or a restored physical backup or point-in-time recovery)',
                                  v_problem->>'recordedTimeline', v_problem->>'currentTimeline')
      ELSE 'this database has no write fence' END
    USING ERRCODE = 'IPR23', DETAIL = v_problem::text,
          HINT = 'nothing was changed; run ipam reconcile --from-state <pulumi stack export files> (or ipam db accept-restore), see docs/operations.md';
END
$$;

CREATE TRIGGER refuse_write_after_restore BEFORE INSERT OR UPDATE OR DELETE ON subnet
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_write_after_restore();
CREATE TRIGGER refuse_write_after_restore BEFORE UPDATE OR DELETE ON allocation
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_write_after_restore();
CREATE TRIGGER refuse_write_after_restore BEFORE INSERT OR DELETE ON allocated_address
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_write_after_restore();

-- Ids issued after a restore must never equal one a stack's state already holds: past the highest
-- the caller knows (from state files) and a margin for the ones nobody reported (int4 subnet ids
-- are advisory-lock keys, hence the smaller margin).
CREATE FUNCTION advance_ids_past(p_allocation_id bigint, p_subnet_id integer) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
  v_seq text;
BEGIN
  v_seq := pg_get_serial_sequence(format('%I.allocation', current_schema()), 'id');
  PERFORM setval(v_seq, greatest((SELECT coalesce(max(id), 0) FROM allocation), p_allocation_id, pg_sequence_last_value(v_seq::regclass)) + 4294967296);
  v_seq := pg_get_serial_sequence(format('%I.subnet', current_schema()), 'id');
  PERFORM setval(v_seq, least(2147483000, greatest((SELECT coalesce(max(id), 0) FROM subnet), p_subnet_id, pg_sequence_last_value(v_seq::regclass)) + 1048576));
END
$$;

-- Part 2, hold-down. A subnet's release_hold_seconds (default 0: today's behaviour) keeps released
-- addresses in held_address, not in free_range, until held_until (the database's clock): next-free,
-- random and bulk picks read free_range only, so held addresses cost them nothing however many
-- there are. Expired holds return to free_range under the subnet's lock, before picks.
ALTER TABLE subnet ADD COLUMN release_hold_seconds integer NOT NULL DEFAULT 0
  CONSTRAINT subnet_release_hold CHECK (release_hold_seconds BETWEEN 0 AND 31536000);

CREATE TABLE held_address (
  subnet_id integer NOT NULL REFERENCES subnet (id) ON DELETE CASCADE,
  ordinal numeric(39, 0) NOT NULL,
  address inet NOT NULL,
  held_until timestamptz NOT NULL,
  owner text NOT NULL,
  allocation_id bigint NOT NULL,
  CONSTRAINT held_address_pkey PRIMARY KEY (subnet_id, ordinal)
);
CREATE INDEX held_address_expiry ON held_address (subnet_id, held_until);

-- Merge each expired hold into its neighbouring free ranges (index probes per expired address, so
-- the cost is the number expiring now, not the number held). Returns how many were returned.
CREATE FUNCTION return_expired_holds(p_subnet_id integer) RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  v_ordinal numeric;
  v_left numeric;
  v_right_last numeric;
  v_count integer := 0;
BEGIN
  FOR v_ordinal IN DELETE FROM held_address h WHERE h.subnet_id = p_subnet_id AND h.held_until <= now() RETURNING h.ordinal LOOP
    v_count := v_count + 1;
    SELECT f.first_ordinal INTO v_left FROM free_range f WHERE f.subnet_id = p_subnet_id AND f.last_ordinal = v_ordinal - 1;
    IF NOT FOUND THEN v_left := NULL; END IF;
    SELECT f.last_ordinal INTO v_right_last FROM free_range f WHERE f.subnet_id = p_subnet_id AND f.first_ordinal = v_ordinal + 1;
    IF FOUND THEN
      DELETE FROM free_range f WHERE f.subnet_id = p_subnet_id AND f.first_ordinal = v_ordinal + 1;
    ELSE
      v_right_last := v_ordinal;
    END IF;
    IF v_left IS NOT NULL THEN
      UPDATE free_range f SET last_ordinal = v_right_last WHERE f.subnet_id = p_subnet_id AND f.first_ordinal = v_left;
    ELSE
      INSERT INTO free_range (subnet_id, first_ordinal, last_ordinal) VALUES (p_subnet_id, v_ordinal, v_right_last);
    END IF;
  END LOOP;
  RETURN v_count;
END
$$;

-- allocate_next_batch (migration 0008) returning each served subnet's expired holds first.
CREATE OR REPLACE FUNCTION allocate_next_batch(
  p_subnet_ids integer[],
  p_owners text[],
  p_keys text[],
  p_descriptions text[],
  p_tags jsonb[],
  p_lock_class integer,
  p_lock_timeout_ms integer
) RETURNS TABLE (
  r_index integer,
  r_status text,
  r_id bigint,
  r_created_at timestamptz,
  r_updated_at timestamptz,
  r_ip_version integer,
  r_ordinal numeric,
  r_prefix_length integer,
  r_gateway text,
  r_sqlstate text,
  r_constraint text,
  r_message text
)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  v_subnet integer;
  v_subnets integer[];
  v_timed_out integer[] := '{}';
  v_busy integer[] := '{}';
  v_cidr cidr;
  v_gateway inet;
  v_lo numeric;
  v_hi numeric;
  v_address inet;
BEGIN
  PERFORM set_config('lock_timeout', p_lock_timeout_ms::text, true);
  v_subnets := ARRAY(SELECT DISTINCT s FROM unnest(p_subnet_ids) AS s ORDER BY s);
  IF cardinality(v_subnets) = 1 THEN
    BEGIN
      PERFORM pg_advisory_xact_lock(p_lock_class, v_subnets[1]);
    EXCEPTION WHEN lock_not_available THEN
      v_timed_out := v_subnets;
    END;
  ELSE
    FOREACH v_subnet IN ARRAY v_subnets LOOP
      IF NOT pg_try_advisory_xact_lock(p_lock_class, v_subnet) THEN
        v_busy := v_busy || v_subnet;
      END IF;
    END LOOP;
  END IF;
  FOREACH v_subnet IN ARRAY v_subnets LOOP
    IF NOT (v_subnet = ANY (v_timed_out) OR v_subnet = ANY (v_busy)) THEN
      PERFORM return_expired_holds(v_subnet);
    END IF;
  END LOOP;

  FOR i IN 1 .. coalesce(array_length(p_subnet_ids, 1), 0) LOOP
    r_index := i;
    r_id := NULL; r_created_at := NULL; r_updated_at := NULL; r_ip_version := NULL; r_ordinal := NULL;
    r_prefix_length := NULL; r_gateway := NULL; r_sqlstate := NULL; r_constraint := NULL; r_message := NULL;
    v_subnet := p_subnet_ids[i];
    IF v_subnet = ANY (v_timed_out) OR v_subnet = ANY (v_busy) THEN
      r_status := CASE WHEN v_subnet = ANY (v_busy) THEN 'busy' ELSE 'lock_timeout' END;
      RETURN NEXT;
      CONTINUE;
    END IF;
    BEGIN
      SELECT s.cidr, s.gateway INTO v_cidr, v_gateway FROM subnet s WHERE s.id = v_subnet;
      IF NOT FOUND THEN
        r_status := 'not_found';
      ELSE
        r_ip_version := family(v_cidr);
        r_prefix_length := masklen(v_cidr);
        r_gateway := host(v_gateway);
        SELECT f.first_ordinal, f.last_ordinal INTO v_lo, v_hi
        FROM free_range f WHERE f.subnet_id = v_subnet ORDER BY f.first_ordinal LIMIT 1;
        IF NOT FOUND THEN
          r_status := 'exhausted';
        ELSE
          IF v_lo = v_hi THEN
            DELETE FROM free_range f WHERE f.subnet_id = v_subnet AND f.first_ordinal = v_lo;
          ELSE
            UPDATE free_range f SET first_ordinal = v_lo + 1 WHERE f.subnet_id = v_subnet AND f.first_ordinal = v_lo;
          END IF;
          v_address := ordinal_to_inet(v_lo, r_ip_version);
          INSERT INTO allocation (subnet_id, owner, idempotency_key, strategy, requested_address, description, tags)
          VALUES (v_subnet, p_owners[i], p_keys[i], 'sequential', NULL, p_descriptions[i], p_tags[i])
          RETURNING allocation.id, allocation.created_at, allocation.updated_at INTO r_id, r_created_at, r_updated_at;
          INSERT INTO allocated_address (subnet_id, address, ordinal, allocation_id) VALUES (v_subnet, v_address, v_lo, r_id);
          r_ordinal := v_lo;
          r_status := 'ok';
        END IF;
      END IF;
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS r_sqlstate = RETURNED_SQLSTATE, r_constraint = CONSTRAINT_NAME, r_message = MESSAGE_TEXT;
      r_status := 'error';
      r_id := NULL; r_created_at := NULL; r_updated_at := NULL; r_ordinal := NULL;
    END;
    RETURN NEXT;
  END LOOP;
END
$$;

-- The least-privilege role reads the fence and never changes it or re-opens writes; the functions
-- that do are the owner's (ALTER DEFAULT PRIVILEGES in roles/ipam_app.sql would grant them).
REVOKE EXECUTE ON FUNCTION record_write_fence(text), advance_ids_past(bigint, integer) FROM PUBLIC;
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ipam_app') THEN
    REVOKE ALL ON write_fence FROM ipam_app;
    GRANT SELECT ON write_fence TO ipam_app;
    REVOKE EXECUTE ON FUNCTION record_write_fence(text), advance_ids_past(bigint, integer) FROM ipam_app;
  END IF;
END
$$;

-- Migration 0007 pins every function's search_path; pin the ones this migration adds likewise.
DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace LOOP
    EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f, current_schema());
  END LOOP;
END
$$;

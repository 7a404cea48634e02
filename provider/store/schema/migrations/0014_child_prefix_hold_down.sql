-- Hold-down for child prefixes (issue 23): a child subnet deleted from a parent whose
-- release_hold_seconds is above 0 leaves its block in held_block until held_until (the database's
-- clock). Since 0012 the free-space indexes are derived by the schema's own functions from the
-- subnet's data; a held block is part of that data: sync_free_ranges and resync_free_blocks (and so
-- rebuild_free_ranges, rebuild_free_blocks, take_child_space, return_child_space) leave it out of
-- the parent's free ranges and free blocks, and first-fit, best-fit and next-free read those indexes
-- only, so held blocks cost them nothing. return_expired_holds deletes expired held blocks and
-- derives their space back (return_child_space).
--
-- A held block is a truth the derivations read, so (as 0012 does for held_address) the application
-- role may write one only for a child block its own transaction released: the child's last audit
-- row is its 'subnet.delete' in this transaction with the same CIDR, followed by the parent's
-- 'child.return' naming the child; its ordinals are the CIDR's; it is held no longer than the
-- parent's release_hold_seconds. An import (0010) may carry one. Deleting a hold, or an update that
-- only brings its end nearer, gives space back and stays allowed.
CREATE TABLE held_block (
  parent_id integer NOT NULL REFERENCES subnet (id) ON DELETE CASCADE,
  cidr cidr NOT NULL,
  first_ordinal numeric(39, 0) NOT NULL,
  last_ordinal numeric(39, 0) NOT NULL,
  held_until timestamptz NOT NULL,
  -- The released child (gone: no foreign key) and its idempotency key, to say who released it.
  child_id integer NOT NULL,
  child_key text,
  CONSTRAINT held_block_pkey PRIMARY KEY (parent_id, cidr)
);
CREATE INDEX held_block_expiry ON held_block (parent_id, held_until);

-- The parts of [p_lo, p_hi] a parent's held blocks cover (expired ones not yet returned included).
CREATE FUNCTION held_block_space(p_parent_id integer, p_lo numeric, p_hi numeric) RETURNS nummultirange
LANGUAGE sql STABLE
AS $$
  SELECT coalesce(range_agg(numrange(greatest(b.first_ordinal, p_lo), least(b.last_ordinal, p_hi) + 1)), '{}'::nummultirange)
  FROM held_block b WHERE b.parent_id = p_parent_id AND b.first_ordinal <= p_hi AND b.last_ordinal >= p_lo
$$;

-- 0012's derivations, now minus held blocks (unchanged otherwise).
CREATE OR REPLACE FUNCTION sync_free_ranges(p_subnet_id integer, p_firsts numeric[], p_lasts numeric[]) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
  v_cidr cidr;
  v_windows nummultirange;
  v_touched nummultirange;
  v_taken nummultirange;
  v_truth nummultirange;
BEGIN
  SELECT s.cidr INTO v_cidr FROM subnet s WHERE s.id = p_subnet_id;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  -- The subnet's advisory lock (provider/store/database/lockKeys.ts), which the store already holds
  -- (taking it again is free): a direct caller waits for it, so a derivation never interleaves with
  -- an operation of the store. An import takes none: its subnets are new and it holds the import
  -- lock, and a lock per subnet runs out of lock memory (item 6).
  IF NOT audit_importing() THEN
    PERFORM pg_advisory_xact_lock(4804685, p_subnet_id);
  END IF;
  -- Windows are clipped to the subnet's CIDR.
  SELECT range_agg(numrange(w.lo, w.hi + 1)) * numrange(inet_to_ordinal(network(v_cidr)), inet_to_ordinal(broadcast(v_cidr)) + 1)::nummultirange
  INTO v_windows
  FROM unnest(p_firsts, p_lasts) AS w(lo, hi) WHERE w.lo <= w.hi;
  IF v_windows IS NULL OR isempty(v_windows) THEN
    RETURN;
  END IF;
  -- The free ranges overlapping or touching a window: per window the one holding (or ending just
  -- before) its start, and those starting inside it or just after. Index probes, not a scan.
  WITH w AS (SELECT lower(r) AS lo, upper(r) - 1 AS hi FROM unnest(v_windows) AS r),
  gone AS (
    DELETE FROM free_range f WHERE f.ctid = ANY (ARRAY(
      SELECT t.ctid FROM w CROSS JOIN LATERAL (
        SELECT b.ctid FROM (
          SELECT x.ctid, x.last_ordinal FROM free_range x
          WHERE x.subnet_id = p_subnet_id AND x.first_ordinal <= w.lo - 1 ORDER BY x.first_ordinal DESC LIMIT 1
        ) AS b WHERE b.last_ordinal >= w.lo - 1
        UNION ALL
        SELECT x.ctid FROM free_range x
        WHERE x.subnet_id = p_subnet_id AND x.first_ordinal > w.lo - 1 AND x.first_ordinal <= w.hi + 1
      ) AS t
    ))
    RETURNING numrange(f.first_ordinal, f.last_ordinal + 1) AS r
  )
  SELECT coalesce(range_agg(r), '{}'::nummultirange) INTO v_touched FROM gone;
  -- What inside the windows is not free: allocated and held addresses (index probes per window).
  SELECT coalesce(range_agg(numrange(o, o + 1)), '{}'::nummultirange) INTO v_taken
  FROM unnest(v_windows) AS r CROSS JOIN LATERAL (
    SELECT a.ordinal AS o FROM allocated_address a WHERE a.subnet_id = p_subnet_id AND a.ordinal >= lower(r) AND a.ordinal < upper(r)
    UNION ALL
    SELECT h.ordinal FROM held_address h WHERE h.subnet_id = p_subnet_id AND h.ordinal >= lower(r) AND h.ordinal < upper(r)
  ) AS x;
  v_truth := allocatable_space(p_subnet_id) * v_windows - v_taken
             - child_space(p_subnet_id, inet_merge(ordinal_to_inet(lower(v_windows), family(v_cidr)), ordinal_to_inet(upper(v_windows) - 1, family(v_cidr))))
             - held_block_space(p_subnet_id, lower(v_windows), upper(v_windows) - 1);
  INSERT INTO free_range (subnet_id, first_ordinal, last_ordinal)
  SELECT p_subnet_id, lower(r), upper(r) - 1 FROM unnest((v_touched - v_windows) + v_truth) AS r;
END
$$;

CREATE OR REPLACE FUNCTION resync_free_blocks(p_parent_id integer, p_lo numeric, p_hi numeric) RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  v_cidr cidr;
  v_lo numeric := p_lo;
  v_hi numeric := p_hi;
  v_first numeric;
  v_last numeric;
BEGIN
  SELECT s.cidr INTO v_cidr FROM subnet s WHERE s.id = p_parent_id;
  SELECT b.first_ordinal, b.last_ordinal INTO v_first, v_last FROM free_block b
  WHERE b.subnet_id = p_parent_id AND b.first_ordinal < p_lo ORDER BY b.first_ordinal DESC LIMIT 1;
  IF FOUND AND v_last >= p_lo THEN
    v_lo := v_first;
    v_hi := greatest(v_hi, v_last);
  END IF;
  v_lo := greatest(v_lo, inet_to_ordinal(network(v_cidr)));
  v_hi := least(v_hi, inet_to_ordinal(broadcast(v_cidr)));
  DELETE FROM free_block b WHERE b.subnet_id = p_parent_id AND b.first_ordinal BETWEEN v_lo AND v_hi;
  INSERT INTO free_block (subnet_id, first_ordinal, last_ordinal, prefix_length)
  SELECT p_parent_id, a.first_ordinal, a.last_ordinal, a.prefix_length
  FROM aligned_blocks(
    numrange(v_lo, v_hi + 1)::nummultirange - kept_from_children(p_parent_id)
      - child_space(p_parent_id, inet_merge(ordinal_to_inet(v_lo, family(v_cidr)), ordinal_to_inet(v_hi, family(v_cidr))))
      - held_block_space(p_parent_id, v_lo, v_hi),
    CASE family(v_cidr) WHEN 4 THEN 32 ELSE 128 END) AS a;
END
$$;

-- Expired address holds go back through sync_free_ranges (as 0012); expired held blocks through
-- return_child_space, which derives them back into the free blocks and free ranges (a block inside
-- a child, or holding what the parent keeps, stays out).
CREATE OR REPLACE FUNCTION return_expired_holds(p_subnet_id integer) RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  v_ordinals numeric[];
  v_count integer := 0;
  v_block cidr;
BEGIN
  WITH expired AS (DELETE FROM held_address h WHERE h.subnet_id = p_subnet_id AND h.held_until <= now() RETURNING h.ordinal)
  SELECT array_agg(ordinal) INTO v_ordinals FROM expired;
  IF v_ordinals IS NOT NULL THEN
    PERFORM sync_free_ranges(p_subnet_id, v_ordinals, v_ordinals);
    v_count := cardinality(v_ordinals);
  END IF;
  FOR v_block IN DELETE FROM held_block b WHERE b.parent_id = p_subnet_id AND b.held_until <= now() RETURNING b.cidr LOOP
    PERFORM return_child_space(p_subnet_id, v_block);
    v_count := v_count + 1;
  END LOOP;
  RETURN v_count;
END
$$;

CREATE FUNCTION held_block_problem(p_rows held_block[]) RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  v_cidr cidr;
  v_parent integer;
BEGIN
  IF coalesce(cardinality(p_rows), 0) = 0 OR audit_importing() THEN
    RETURN NULL;
  END IF;
  SELECT b.cidr, b.parent_id INTO v_cidr, v_parent
  FROM unnest(p_rows) AS b JOIN subnet p ON p.id = b.parent_id
  LEFT JOIN LATERAL (
    -- The child's last audit row (nothing follows a delete): index probe on audit_event_subnet.
    SELECT d.id, d.action, d.at, d.cidr FROM audit_event d WHERE d.subnet_id = b.child_id ORDER BY d.id DESC LIMIT 1
  ) AS d ON true
  WHERE b.held_until > now() + make_interval(secs => p.release_hold_seconds)
     OR b.first_ordinal IS DISTINCT FROM inet_to_ordinal(network(b.cidr))
     OR b.last_ordinal IS DISTINCT FROM inet_to_ordinal(broadcast(b.cidr))
     OR d.id IS NULL OR d.action <> 'subnet.delete' OR d.at <> now() OR d.cidr IS DISTINCT FROM b.cidr
     OR NOT EXISTS (
       -- The parent's child.return, written by the same delete just after (its events since then only).
       SELECT 1 FROM audit_event r
       WHERE r.subnet_id = b.parent_id AND r.id > d.id AND r.action = 'child.return' AND r.at = now()
         AND r.cidr = b.cidr AND r.detail->>'childId' = b.child_id::text)
  LIMIT 1;
  IF FOUND THEN
    RETURN format('a hold on child block %s (subnet %s) is written only by the delete of that child', v_cidr, v_parent);
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION refuse_forged_block_hold(p_problem text) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
  IF p_problem IS NOT NULL THEN
    RAISE EXCEPTION '%', p_problem USING ERRCODE = 'check_violation', CONSTRAINT = 'held_block_released';
  END IF;
END
$$;

CREATE FUNCTION guard_held_block_insert() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  PERFORM refuse_forged_block_hold(held_block_problem((SELECT array_agg(ROW(n.*)::held_block) FROM added n)));
  RETURN NULL;
END
$$;

-- An update that only brings a hold's end nearer gives space back: only the other rows are checked.
CREATE FUNCTION guard_held_block_update() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  PERFORM refuse_forged_block_hold(held_block_problem((
    SELECT array_agg(ROW(n.*)::held_block) FROM added n
    WHERE NOT EXISTS (SELECT 1 FROM removed o
                      WHERE o.parent_id = n.parent_id AND o.cidr = n.cidr AND o.first_ordinal = n.first_ordinal
                        AND o.last_ordinal = n.last_ordinal AND o.child_id = n.child_id
                        AND o.child_key IS NOT DISTINCT FROM n.child_key AND n.held_until <= o.held_until))));
  RETURN NULL;
END
$$;

CREATE TRIGGER guard_held_block_insert AFTER INSERT ON held_block REFERENCING NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION guard_held_block_insert();
CREATE TRIGGER guard_held_block_update AFTER UPDATE ON held_block REFERENCING OLD TABLE AS removed NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION guard_held_block_update();

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ipam_app') THEN
    GRANT SELECT, INSERT, UPDATE, DELETE ON held_block TO ipam_app;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ipam_reader') THEN
    GRANT SELECT ON held_block TO ipam_reader;
  END IF;
END
$$;

-- Migration 0007 pins every function's search_path (CREATE OR REPLACE drops the setting): pin them
-- all again, as 0012 does.
DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace LOOP
    EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f, current_schema());
  END LOOP;
END
$$;

-- Third security review (issue 22), item 4, the part 0010 left open: a login in ipam_app could
-- DELETE (or shrink by UPDATE) a subnet's free ranges or a parent's free blocks and so hide free
-- space (the subnet looks full) with no audit row. Forward only; no row is changed or removed.
--
-- From here on the free-space indexes (free_range, free_block) are written only by the functions
-- below, which run as the schema owner (SECURITY DEFINER, search_path pinned) and compute what they
-- write from the subnet's own data, never from what the caller says:
-- * sync_free_ranges(subnet, windows): inside the given ordinal windows the free ranges become
--   exactly the subnet's truth (its pools, minus network, broadcast, gateway and reserved, minus
--   every allocated, held and child address; nothing for a children-only subnet), merged with the
--   ranges that touch the windows; outside them nothing changes. Taking addresses, giving them
--   back and rebuilding are all this one call, so whatever windows a caller passes, the index only
--   gets truer: nothing free can be hidden through it.
-- * take_child_space / return_child_space / rebuild_free_blocks: the same for a parent's free
--   blocks (its CIDR minus gateway, reserved and children, as maximal aligned blocks).
-- * allocate_one (one address, the store's single-statement path), allocate_next and
--   allocate_next_batch: what they take out of the free ranges is exactly what they allocate in
--   the same call (and the allocation is audited by 0007's triggers).
-- The store's role then loses INSERT, UPDATE, DELETE and TRUNCATE on both tables (below, and in
-- roles/ipam_app.sql), and free_blocks_built may only become true through rebuild_free_blocks (a
-- parent marked built with no blocks would hide its space for children), and a hold (held_address,
-- a truth the derivations read) is accepted only from the release of its address.
--
-- Multiranges (nummultirange, range_agg) need PostgreSQL 14 or later. Ordinals are integers, so
-- the range [lo, hi] is numrange(lo, hi + 1) (half-open), and multirange arithmetic stays exact.

-- A subnet's allocatable space as ordinals: its pools minus never_allocatable (0010); nothing for a
-- children-only subnet.
CREATE FUNCTION allocatable_space(p_subnet_id integer) RETURNS nummultirange
LANGUAGE sql STABLE
AS $$
  SELECT CASE WHEN s.children_only THEN '{}'::nummultirange ELSE
    coalesce((SELECT range_agg(numrange(inet_to_ordinal((p->>'start')::inet), inet_to_ordinal((p->>'end')::inet) + 1))
              FROM jsonb_array_elements(s.pools) AS p), '{}'::nummultirange)
    - coalesce((SELECT range_agg(numrange(n.lo, n.hi + 1)) FROM never_allocatable(ARRAY[s.id]) AS n), '{}'::nummultirange)
  END
  FROM subnet s WHERE s.id = p_subnet_id
$$;

-- The ordinals of a parent's children that overlap `p_hull` (a network covering the windows): an
-- index probe on subnet_no_overlap's GiST index (the predicate is written in its terms).
CREATE FUNCTION child_space(p_parent_id integer, p_hull inet) RETURNS nummultirange
LANGUAGE sql STABLE
AS $$
  SELECT coalesce(range_agg(numrange(inet_to_ordinal(network(c.cidr)), inet_to_ordinal(broadcast(c.cidr)) + 1)), '{}'::nummultirange)
  FROM subnet p JOIN subnet c
    ON int4range(c.namespace_id, c.namespace_id, '[]') && int4range(p.namespace_id, p.namespace_id, '[]')
   AND int4range(coalesce(c.parent_id, 0), coalesce(c.parent_id, 0), '[]') && int4range(p.id, p.id, '[]')
   AND c.cidr && p_hull
  WHERE p.id = p_parent_id
$$;

-- What a parent keeps from its children: its gateway and reserved entries.
CREATE FUNCTION kept_from_children(p_subnet_id integer) RETURNS nummultirange
LANGUAGE sql STABLE
AS $$
  SELECT coalesce(range_agg(numrange(n.lo, n.hi + 1)), '{}'::nummultirange)
  FROM never_allocatable(ARRAY[p_subnet_id]) AS n WHERE n.kind IN ('gateway', 'reserved')
$$;

CREATE FUNCTION sync_free_ranges(p_subnet_id integer, p_firsts numeric[], p_lasts numeric[]) RETURNS void
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
             - child_space(p_subnet_id, inet_merge(ordinal_to_inet(lower(v_windows), family(v_cidr)), ordinal_to_inet(upper(v_windows) - 1, family(v_cidr))));
  INSERT INTO free_range (subnet_id, first_ordinal, last_ordinal)
  SELECT p_subnet_id, lower(r), upper(r) - 1 FROM unnest((v_touched - v_windows) + v_truth) AS r;
END
$$;

-- A subnet's free ranges from scratch (created, imported, or its pools, gateway, reserved entries
-- or childrenOnly changed): sync_free_ranges over its whole CIDR.
CREATE FUNCTION rebuild_free_ranges(p_subnet_id integer) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
AS $$
  SELECT sync_free_ranges(s.id, ARRAY[inet_to_ordinal(network(s.cidr))], ARRAY[inet_to_ordinal(broadcast(s.cidr))])
  FROM subnet s WHERE s.id = p_subnet_id
$$;

-- Maximal aligned blocks of `p_space` (greedy from the low end: the largest aligned block that
-- starts at the next free ordinal and fits), for addresses of `p_bits` bits.
CREATE FUNCTION aligned_blocks(p_space nummultirange, p_bits integer)
RETURNS TABLE (first_ordinal numeric, last_ordinal numeric, prefix_length smallint)
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  r numrange;
  v_lo numeric;
  v_hi numeric;
  v_size numeric;
  v_length integer;
BEGIN
  FOR r IN SELECT unnest(p_space) LOOP
    v_lo := lower(r);
    v_hi := upper(r) - 1;
    WHILE v_lo <= v_hi LOOP
      v_size := 1;
      v_length := p_bits;
      WHILE v_length > 0 AND mod(v_lo, v_size * 2) = 0 AND v_lo + v_size * 2 - 1 <= v_hi LOOP
        v_size := v_size * 2;
        v_length := v_length - 1;
      END LOOP;
      first_ordinal := v_lo;
      last_ordinal := v_lo + v_size - 1;
      prefix_length := v_length;
      RETURN NEXT;
      v_lo := v_lo + v_size;
    END LOOP;
  END LOOP;
END
$$;

-- Inside [p_lo, p_hi] (an aligned block of the parent), the free blocks become exactly the parent's
-- truth there: the window minus its gateway, reserved entries and children. A block that starts
-- before the window and reaches into it is taken in whole.
CREATE FUNCTION resync_free_blocks(p_parent_id integer, p_lo numeric, p_hi numeric) RETURNS void
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
      - child_space(p_parent_id, inet_merge(ordinal_to_inet(v_lo, family(v_cidr)), ordinal_to_inet(v_hi, family(v_cidr)))),
    CASE family(v_cidr) WHEN 4 THEN 32 ELSE 128 END) AS a;
END
$$;

-- A parent's free blocks from scratch (the first child operation, or after its gateway or
-- reserved entries changed), and the mark that they are built.
CREATE FUNCTION rebuild_free_blocks(p_parent_id integer) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
  v_cidr cidr;
BEGIN
  SELECT s.cidr INTO v_cidr FROM subnet s WHERE s.id = p_parent_id;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  PERFORM pg_advisory_xact_lock(4804685, p_parent_id);
  DELETE FROM free_block b WHERE b.subnet_id = p_parent_id;
  PERFORM resync_free_blocks(p_parent_id, inet_to_ordinal(network(v_cidr)), inet_to_ordinal(broadcast(v_cidr)));
  UPDATE subnet SET free_blocks_built = true WHERE id = p_parent_id AND NOT free_blocks_built;
END
$$;

-- A new child (its row already inserted) leaves its parent's free blocks and free ranges.
CREATE FUNCTION take_child_space(p_parent_id integer, p_child_id integer) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
  v_child cidr;
  v_lo numeric;
  v_hi numeric;
  v_first numeric;
  v_last numeric;
  v_built boolean;
  v_children_only boolean;
BEGIN
  SELECT c.cidr, p.free_blocks_built, p.children_only INTO v_child, v_built, v_children_only
  FROM subnet c JOIN subnet p ON p.id = c.parent_id WHERE c.id = p_child_id AND c.parent_id = p_parent_id;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  PERFORM pg_advisory_xact_lock(4804685, p_parent_id);
  v_lo := inet_to_ordinal(network(v_child));
  v_hi := inet_to_ordinal(broadcast(v_child));
  IF v_built THEN
    SELECT b.first_ordinal, b.last_ordinal INTO v_first, v_last FROM free_block b
    WHERE b.subnet_id = p_parent_id AND b.first_ordinal <= v_lo ORDER BY b.first_ordinal DESC LIMIT 1;
    IF FOUND AND v_last >= v_lo THEN
      PERFORM resync_free_blocks(p_parent_id, v_first, v_last);
    END IF;
  END IF;
  IF NOT v_children_only THEN
    PERFORM sync_free_ranges(p_parent_id, ARRAY[v_lo], ARRAY[v_hi]);
  END IF;
END
$$;

-- A deleted child's block goes back to its parent: merged with its free buddies as far up as they
-- go (never past the parent's own prefix), and into its free ranges. Derived like the rest: a block
-- still covered by a child, or holding the parent's gateway or a reserved entry, stays out.
CREATE FUNCTION return_child_space(p_parent_id integer, p_child cidr) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
  v_parent subnet;
  v_bits integer;
  v_length integer;
  v_first numeric;
  v_size numeric;
  v_buddy numeric;
BEGIN
  SELECT * INTO v_parent FROM subnet s WHERE s.id = p_parent_id;
  IF NOT FOUND OR NOT (p_child << v_parent.cidr) THEN
    RETURN;
  END IF;
  PERFORM pg_advisory_xact_lock(4804685, p_parent_id);
  v_bits := CASE family(v_parent.cidr) WHEN 4 THEN 32 ELSE 128 END;
  IF v_parent.free_blocks_built THEN
    v_length := masklen(p_child);
    v_first := inet_to_ordinal(network(p_child));
    WHILE v_length > masklen(v_parent.cidr) LOOP
      v_size := 2::numeric ^ (v_bits - v_length);
      v_buddy := CASE WHEN mod(div(v_first, v_size), 2) = 0 THEN v_first + v_size ELSE v_first - v_size END;
      EXIT WHEN NOT EXISTS (SELECT 1 FROM free_block b WHERE b.subnet_id = p_parent_id AND b.first_ordinal = v_buddy AND b.prefix_length = v_length);
      v_first := least(v_first, v_buddy);
      v_length := v_length - 1;
    END LOOP;
    PERFORM resync_free_blocks(p_parent_id, v_first, v_first + 2::numeric ^ (v_bits - v_length) - 1);
  END IF;
  IF NOT v_parent.children_only THEN
    PERFORM sync_free_ranges(p_parent_id, ARRAY[inet_to_ordinal(network(p_child))], ARRAY[inet_to_ordinal(broadcast(p_child))]);
  END IF;
END
$$;

-- One address (next free, random among candidates, or a specific one) as one call: the range cut
-- and the allocation are one unit, so what leaves the free ranges is what this call allocates.
-- A specific address is inserted whether or not it sits in a free range (outside the pools is
-- allowed); the unique key on (subnet, address) refuses one that is taken. NULL: no free address
-- among the candidates (random) or none at all (next).
CREATE FUNCTION allocate_one(
  p_subnet_id integer,
  p_owner text,
  p_idempotency_key text,
  p_strategy text,
  p_requested inet,
  p_description text,
  p_tags jsonb,
  p_specific numeric,
  p_candidates numeric[]
) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
  v_cidr cidr;
  v_lo numeric;
  v_hi numeric;
  v_pick numeric;
  v_id bigint;
BEGIN
  SELECT s.cidr INTO v_cidr FROM subnet s WHERE s.id = p_subnet_id;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  IF p_specific IS NOT NULL THEN
    v_pick := p_specific;
    SELECT f.first_ordinal, f.last_ordinal INTO v_lo, v_hi FROM (
      SELECT x.first_ordinal, x.last_ordinal FROM free_range x
      WHERE x.subnet_id = p_subnet_id AND x.first_ordinal <= p_specific ORDER BY x.first_ordinal DESC LIMIT 1
    ) AS f WHERE f.last_ordinal >= p_specific;
  ELSIF p_strategy = 'random' THEN
    SELECT f.first_ordinal, f.last_ordinal, c.pick INTO v_lo, v_hi, v_pick
    FROM unnest(p_candidates) WITH ORDINALITY AS c(pick, n)
    CROSS JOIN LATERAL (
      SELECT x.first_ordinal, x.last_ordinal FROM free_range x
      WHERE x.subnet_id = p_subnet_id AND x.first_ordinal <= c.pick ORDER BY x.first_ordinal DESC LIMIT 1
    ) AS f
    WHERE f.last_ordinal >= c.pick
    ORDER BY c.n LIMIT 1;
    IF NOT FOUND THEN
      RETURN NULL;
    END IF;
  ELSE
    SELECT x.first_ordinal, x.last_ordinal, x.first_ordinal INTO v_lo, v_hi, v_pick FROM free_range x
    WHERE x.subnet_id = p_subnet_id ORDER BY x.first_ordinal LIMIT 1;
    IF NOT FOUND THEN
      RETURN NULL;
    END IF;
  END IF;
  IF v_lo IS NOT NULL THEN
    IF v_lo = v_hi THEN
      DELETE FROM free_range f WHERE f.subnet_id = p_subnet_id AND f.first_ordinal = v_lo;
    ELSIF v_pick = v_lo THEN
      UPDATE free_range f SET first_ordinal = v_pick + 1 WHERE f.subnet_id = p_subnet_id AND f.first_ordinal = v_lo;
    ELSE
      UPDATE free_range f SET last_ordinal = v_pick - 1 WHERE f.subnet_id = p_subnet_id AND f.first_ordinal = v_lo;
      IF v_pick < v_hi THEN
        INSERT INTO free_range (subnet_id, first_ordinal, last_ordinal) VALUES (p_subnet_id, v_pick + 1, v_hi);
      END IF;
    END IF;
  END IF;
  INSERT INTO allocation (subnet_id, owner, idempotency_key, strategy, requested_address, description, tags)
  VALUES (p_subnet_id, p_owner, p_idempotency_key, p_strategy, p_requested, p_description, p_tags)
  RETURNING id INTO v_id;
  INSERT INTO allocated_address (subnet_id, address, ordinal, allocation_id)
  VALUES (p_subnet_id, ordinal_to_inet(v_pick, family(v_cidr)), v_pick, v_id);
  RETURN v_id;
END
$$;

-- Expired holds go back through sync_free_ranges: an address allocated again, or inside a child,
-- meanwhile (or a hold row that was never a release) stays out of the free ranges.
CREATE OR REPLACE FUNCTION return_expired_holds(p_subnet_id integer) RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  v_ordinals numeric[];
BEGIN
  WITH expired AS (DELETE FROM held_address h WHERE h.subnet_id = p_subnet_id AND h.held_until <= now() RETURNING h.ordinal)
  SELECT array_agg(ordinal) INTO v_ordinals FROM expired;
  IF v_ordinals IS NULL THEN
    RETURN 0;
  END IF;
  PERFORM sync_free_ranges(p_subnet_id, v_ordinals, v_ordinals);
  RETURN cardinality(v_ordinals);
END
$$;

-- Next-free takes the first free address and allocates it in the same call: the owner's to run.
ALTER FUNCTION allocate_next(integer, text, text, text, jsonb, integer, integer) SECURITY DEFINER;
ALTER FUNCTION allocate_next_batch(integer[], text[], text[], text[], jsonb[], integer, integer) SECURITY DEFINER;

-- free_blocks_built marks a parent's blocks as built; set by anyone else with no blocks written, it
-- would hide the parent's space for children. Only who may write free_block may set it (a definer
-- function above, or the owner). Clearing it is always allowed: the next child operation rebuilds.
CREATE FUNCTION refuse_free_blocks_mark() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF NOT has_table_privilege(current_user, format('%I.free_block', TG_TABLE_SCHEMA), 'INSERT') THEN
    RAISE EXCEPTION 'free_blocks_built is set only by rebuild_free_blocks (subnet %)', NEW.id
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER refuse_free_blocks_mark_insert BEFORE INSERT ON subnet FOR EACH ROW
  WHEN (NEW.free_blocks_built) EXECUTE FUNCTION refuse_free_blocks_mark();
CREATE TRIGGER refuse_free_blocks_mark_update BEFORE UPDATE OF free_blocks_built ON subnet FOR EACH ROW
  WHEN (NEW.free_blocks_built AND NOT OLD.free_blocks_built) EXECUTE FUNCTION refuse_free_blocks_mark();

-- Hold-down rows (0011) are a truth source for the derivations above: a hold the application role
-- forged could keep a free address out of the free ranges. A hold is accepted only for an address
-- this transaction released (its 'release' or 'shrink' audit row, written by 0007's triggers, has
-- the same allocation, owner and address), with the ordinal of that address, held no longer than
-- the subnet's release_hold_seconds; or in an import, for a role that may import (0010). Deleting
-- a hold only gives space back, and stays allowed.
CREATE FUNCTION held_address_problem(p_rows held_address[]) RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  v_address inet;
  v_subnet integer;
BEGIN
  IF coalesce(cardinality(p_rows), 0) = 0 OR audit_importing() THEN
    RETURN NULL;
  END IF;
  SELECT h.address, h.subnet_id INTO v_address, v_subnet FROM unnest(p_rows) AS h JOIN subnet s ON s.id = h.subnet_id
  WHERE h.held_until > now() + make_interval(secs => s.release_hold_seconds) OR h.address IS DISTINCT FROM ordinal_to_inet(h.ordinal, family(s.cidr))
  LIMIT 1;
  IF NOT FOUND THEN
    WITH released AS (
      SELECT e.subnet_id, e.allocation_id, e.owner, a.address
      FROM audit_event e CROSS JOIN LATERAL unnest(e.addresses) AS a(address)
      WHERE e.allocation_id IN (SELECT DISTINCT h.allocation_id FROM unnest(p_rows) AS h) AND e.at = now() AND e.action IN ('release', 'shrink')
    )
    SELECT h.address, h.subnet_id INTO v_address, v_subnet FROM unnest(p_rows) AS h
    WHERE NOT EXISTS (SELECT 1 FROM released r
                      WHERE r.subnet_id = h.subnet_id AND r.allocation_id = h.allocation_id AND r.owner = h.owner AND r.address = h.address)
    LIMIT 1;
  END IF;
  IF FOUND THEN
    RETURN format('a hold on %s (subnet %s) is written only by the release of that address', host(v_address), v_subnet);
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION refuse_forged_hold(p_problem text) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
  IF p_problem IS NOT NULL THEN
    RAISE EXCEPTION '%', p_problem USING ERRCODE = 'check_violation', CONSTRAINT = 'held_address_released';
  END IF;
END
$$;

CREATE FUNCTION guard_held_address_insert() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  PERFORM refuse_forged_hold(held_address_problem((SELECT array_agg(ROW(n.*)::held_address) FROM added n)));
  RETURN NULL;
END
$$;

-- An update that only brings a hold's end nearer (an operator ending it early) gives space back:
-- only the other rows are checked.
CREATE FUNCTION guard_held_address_update() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  PERFORM refuse_forged_hold(held_address_problem((
    SELECT array_agg(ROW(n.*)::held_address) FROM added n
    WHERE NOT EXISTS (SELECT 1 FROM removed o
                      WHERE o.subnet_id = n.subnet_id AND o.ordinal = n.ordinal AND o.address = n.address
                        AND o.owner = n.owner AND o.allocation_id = n.allocation_id AND n.held_until <= o.held_until))));
  RETURN NULL;
END
$$;

CREATE TRIGGER guard_held_address_insert AFTER INSERT ON held_address REFERENCING NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION guard_held_address_insert();
CREATE TRIGGER guard_held_address_update AFTER UPDATE ON held_address REFERENCING OLD TABLE AS removed NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION guard_held_address_update();

-- The internal helper writes without checking its caller's lock or purpose: the owner's only.
REVOKE EXECUTE ON FUNCTION resync_free_blocks(integer, numeric, numeric) FROM PUBLIC;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ipam_app') THEN
    REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON free_range, free_block FROM ipam_app;
    REVOKE EXECUTE ON FUNCTION resync_free_blocks(integer, numeric, numeric) FROM ipam_app;
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

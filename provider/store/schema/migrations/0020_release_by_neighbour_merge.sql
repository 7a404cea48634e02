-- Issue 25, bench scenario 13 (destroy), pass five. Forward only: functions are added or replaced,
-- no table or row changes.
--
-- A release gave its address back through sync_free_ranges, which re-derives the whole window's
-- truth. Measured on PostgreSQL 15 (a /20 with 100 allocations, one address per release, plans
-- warm): 3-5 ms a call, of which 0010's guard on the new or grown free range ~1.1-1.5 ms and
-- allocatable_space ~1.2 ms, nearly all of it planning: both are SQL functions that every function's
-- pinned search_path (0007) keeps from being inlined, so PostgreSQL 15 plans their bodies, and
-- never_allocatable's inside them, on every call (18 caches SQL function plans). The window's own
-- probes (allocated, held, children, held blocks) cost ~0.1 ms.
--
-- 1. free_space_allowed: 0010's rule for one free-index row (inside a pool, or the CIDR for a free
--    block, and covering no network, broadcast, gateway or reserved address) as PL/pgSQL, whose
--    plans the session keeps. The guards ask it first and, only when it refuses, ask
--    free_space_problem as before for the words: it never allows what free_space_problem refuses
--    (test/database/freeSpaceQuickCheck.test.ts compares the two). A statement adding more than
--    eight rows (a rebuild, a chunk) is checked set-based as before.
-- 2. return_released(subnet, ordinals): released addresses back into the free ranges by merging
--    each run with the free range ending just before it and the ones starting inside or just after
--    it (index probes), instead of re-deriving a window. It takes only the ordinals the database
--    itself confirms are free now: allowed by free_space_allowed (so in allocatable space), and not
--    allocated, held, inside a child or inside a held block; whatever the caller says, the others
--    stay out. Given the subnet's lock and a true index before, the result is the index a rebuild
--    would write (test/allocation/releaseMerge.test.ts). More than 64 ordinals (a big shrink) go
--    through sync_free_ranges, set-based, as before.

CREATE FUNCTION free_space_allowed(p_index text, p_subnet subnet, p_lo numeric, p_hi numeric) RETURNS boolean
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  v_bits integer := CASE family(p_subnet.cidr) WHEN 4 THEN 32 ELSE 128 END;
  v_in_pool boolean := false;
  v_entry cidr;
BEGIN
  IF p_subnet.id IS NULL OR p_lo IS NULL OR p_hi IS NULL OR p_lo > p_hi THEN
    RETURN false;
  END IF;
  IF p_index = 'free_range' THEN
    IF p_subnet.children_only THEN
      RETURN false;
    END IF;
    FOR i IN 0 .. coalesce(jsonb_array_length(p_subnet.pools), 0) - 1 LOOP
      IF inet_to_ordinal((p_subnet.pools -> i ->> 'start')::inet) <= p_lo AND p_hi <= inet_to_ordinal((p_subnet.pools -> i ->> 'end')::inet) THEN
        v_in_pool := true;
        EXIT;
      END IF;
    END LOOP;
    IF NOT v_in_pool
       OR (masklen(p_subnet.cidr) < v_bits - 1 AND inet_to_ordinal(network(p_subnet.cidr)) BETWEEN p_lo AND p_hi)
       OR (v_bits = 32 AND masklen(p_subnet.cidr) < 31 AND inet_to_ordinal(broadcast(p_subnet.cidr)) BETWEEN p_lo AND p_hi) THEN
      RETURN false;
    END IF;
  ELSIF p_index = 'free_block' THEN
    IF p_lo < inet_to_ordinal(network(p_subnet.cidr)) OR p_hi > inet_to_ordinal(broadcast(p_subnet.cidr)) THEN
      RETURN false;
    END IF;
  ELSE
    RETURN false;
  END IF;
  IF p_subnet.gateway IS NOT NULL AND inet_to_ordinal(p_subnet.gateway) BETWEEN p_lo AND p_hi THEN
    RETURN false;
  END IF;
  FOR i IN 0 .. coalesce(jsonb_array_length(p_subnet.reserved), 0) - 1 LOOP
    v_entry := (p_subnet.reserved ->> i)::cidr;
    IF inet_to_ordinal(network(v_entry)) <= p_hi AND inet_to_ordinal(broadcast(v_entry)) >= p_lo THEN
      RETURN false;
    END IF;
  END LOOP;
  RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION guard_free_space_insert() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF (SELECT count(*) FROM (SELECT 1 FROM added LIMIT 9) AS few) <= 8
     AND (SELECT bool_and(coalesce(free_space_allowed(TG_TABLE_NAME, s, a.first_ordinal, a.last_ordinal), false))
          FROM added a LEFT JOIN subnet s ON s.id = a.subnet_id) THEN
    RETURN NULL;
  END IF;
  PERFORM refuse_free_space(free_space_problem(TG_TABLE_NAME, array_agg(subnet_id), array_agg(first_ordinal), array_agg(last_ordinal))) FROM added;
  RETURN NULL;
END
$$;

-- An UPDATE that only shrinks a row (every allocation does) never calls this: see 0010's WHEN clauses.
CREATE OR REPLACE FUNCTION guard_free_space_update() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  v_subnet subnet;
BEGIN
  SELECT * INTO v_subnet FROM subnet s WHERE s.id = NEW.subnet_id;
  IF NOT coalesce(free_space_allowed(TG_TABLE_NAME, v_subnet, NEW.first_ordinal, NEW.last_ordinal), false) THEN
    PERFORM refuse_free_space(free_space_problem(TG_TABLE_NAME, ARRAY[NEW.subnet_id], ARRAY[NEW.first_ordinal], ARRAY[NEW.last_ordinal]));
  END IF;
  RETURN NEW;
END
$$;

CREATE FUNCTION return_released(p_subnet_id integer, p_ordinals numeric[]) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
  v_subnet subnet;
  v_family integer;
  v_free numeric[];
  v_lo numeric;
  v_hi numeric;
  v_left_first numeric;
  v_left_last numeric;
  i integer := 1;
BEGIN
  IF coalesce(cardinality(p_ordinals), 0) = 0 THEN
    RETURN;
  END IF;
  IF cardinality(p_ordinals) > 64 THEN
    PERFORM sync_free_ranges(p_subnet_id, p_ordinals, p_ordinals);
    RETURN;
  END IF;
  -- The subnet's lock, as sync_free_ranges takes it (the store holds it already), before the
  -- subnet is read: its pools, gateway and reserved entries change only under it.
  IF NOT audit_importing() THEN
    PERFORM pg_advisory_xact_lock(4804685, p_subnet_id);
  END IF;
  SELECT * INTO v_subnet FROM subnet s WHERE s.id = p_subnet_id;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  v_family := family(v_subnet.cidr);
  -- What is free now, by the database's own data: allocatable (the guard's rule) and taken by
  -- nothing (an allocation, a hold, a child, a held child block). Index probes per ordinal.
  SELECT array_agg(u.o ORDER BY u.o) INTO v_free
  FROM (SELECT DISTINCT o FROM unnest(p_ordinals) AS o WHERE o IS NOT NULL) AS u
  WHERE free_space_allowed('free_range', v_subnet, u.o, u.o)
    AND NOT EXISTS (SELECT 1 FROM allocated_address a WHERE a.subnet_id = p_subnet_id AND a.ordinal = u.o)
    AND NOT EXISTS (SELECT 1 FROM held_address h WHERE h.subnet_id = p_subnet_id AND h.ordinal = u.o)
    AND NOT EXISTS (SELECT 1 FROM held_block b WHERE b.parent_id = p_subnet_id AND b.first_ordinal <= u.o AND b.last_ordinal >= u.o)
    AND NOT EXISTS (SELECT 1 FROM subnet c
                    WHERE int4range(c.namespace_id, c.namespace_id, '[]') && int4range(v_subnet.namespace_id, v_subnet.namespace_id, '[]')
                      AND int4range(coalesce(c.parent_id, 0), coalesce(c.parent_id, 0), '[]') && int4range(p_subnet_id, p_subnet_id, '[]')
                      AND c.cidr && ordinal_to_inet(u.o, v_family));
  WHILE i <= coalesce(cardinality(v_free), 0) LOOP
    -- One run of consecutive free ordinals [v_lo, v_hi].
    v_lo := v_free[i];
    v_hi := v_lo;
    WHILE i < cardinality(v_free) AND v_free[i + 1] = v_hi + 1 LOOP
      i := i + 1;
      v_hi := v_free[i];
    END LOOP;
    i := i + 1;
    -- Ranges starting inside the run or just after it join it.
    WITH joined AS (
      DELETE FROM free_range f WHERE f.subnet_id = p_subnet_id AND f.first_ordinal > v_lo AND f.first_ordinal <= v_hi + 1
      RETURNING f.last_ordinal
    )
    SELECT greatest(v_hi, max(j.last_ordinal)) INTO v_hi FROM joined j;
    -- The range holding the run's start or ending just before it takes the run; else a new range.
    SELECT f.first_ordinal, f.last_ordinal INTO v_left_first, v_left_last FROM free_range f
    WHERE f.subnet_id = p_subnet_id AND f.first_ordinal <= v_lo ORDER BY f.first_ordinal DESC LIMIT 1;
    IF FOUND AND v_left_last >= v_lo - 1 THEN
      IF v_left_last < v_hi THEN
        UPDATE free_range f SET last_ordinal = v_hi WHERE f.subnet_id = p_subnet_id AND f.first_ordinal = v_left_first;
      END IF;
    ELSE
      INSERT INTO free_range (subnet_id, first_ordinal, last_ordinal) VALUES (p_subnet_id, v_lo, v_hi);
    END IF;
  END LOOP;
END
$$;

-- Migration 0007 pins every function's search_path (CREATE OR REPLACE drops the setting): pin the
-- ones above, and keep 0016's JIT off on the insert guard.
DO $$
BEGIN
  EXECUTE format('ALTER FUNCTION free_space_allowed(text, subnet, numeric, numeric) SET search_path = %I, pg_temp', current_schema());
  EXECUTE format('ALTER FUNCTION guard_free_space_insert() SET search_path = %I, pg_temp', current_schema());
  EXECUTE format('ALTER FUNCTION guard_free_space_update() SET search_path = %I, pg_temp', current_schema());
  EXECUTE format('ALTER FUNCTION return_released(integer, numeric[]) SET search_path = %I, pg_temp', current_schema());
END
$$;
ALTER FUNCTION guard_free_space_insert() SET jit = off;

-- Issue 25, scenario 9 on PostgreSQL 18, pass four. Forward only: one function's settings change
-- (and it is replaced with the same body, comments aside), no table or row changes.
--
-- The longest lock hold of a random bulk in a /64 of 1M free ranges was 2.5 s on PostgreSQL 18
-- (0.75 s on 15): one chunk's sync_free_ranges spent 1.4-2.3 s in "allocated or held inside each
-- window". Its plan (auto_explain, embedded 18.4, the bench's own database): a BitmapAnd of the
-- primary key (subnet_id, address), bounded by the window's addresses, and of
-- allocated_address_allocation (allocation_id, ordinal) with only "ordinal >= lo AND ordinal < hi"
-- as its condition, which PostgreSQL 18 runs as a skip scan (new in 18): per window it walks the
-- index across every allocation id, 14 searches and ~310 pages per window (1,024 windows: 320,000
-- buffer reads per chunk), because the database also holds the 54,000 one-address allocations of
-- the bench's earlier scenarios. Its cost grows with the allocations in the whole table, not with
-- the chunk. The planner takes it because both range conditions are estimated at the default 0.5 %
-- (their bounds are per-window values it cannot see), so ANDing two indexes looks cheaper than
-- either alone. PostgreSQL 15 has no skip scan: the same statement read 6 buffers per window there.
-- The function now runs with bitmap scans off (the probes it makes are one index's range scan per
-- window; nothing in it reads enough rows for a bitmap to pay). Without BitmapAnd, each plan left
-- is one index: the (subnet_id, ordinal) index or the primary key, each bounded to the window by
-- its own conditions (0016), or (allocation_id, ordinal), which costs at least as much as the
-- (subnet_id, ordinal) index (same ordinal bounds, no subnet bound, plus its skips) and returns
-- rows out of ordinal order. Writing the ordinal bounds as (subnet_id, ordinal) row comparisons
-- instead was tried and is worse: a B-tree ends a scan on a row comparison only when its first
-- column changes, so each window read the rest of the subnet (97 s for one chunk).
-- The statement itself is 0016's; no other statement changes.

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
  -- before) its start, and those starting inside it or just after, in first_ordinal order (so the
  -- primary key's range scan is the plan: see the header).
  WITH w AS (SELECT lower(r) AS lo, upper(r) - 1 AS hi FROM unnest(v_windows) AS r),
  gone AS (
    DELETE FROM free_range f WHERE f.ctid = ANY (ARRAY(
      SELECT t.ctid FROM w CROSS JOIN LATERAL (
        SELECT b.ctid FROM (
          SELECT x.ctid, x.last_ordinal FROM free_range x
          WHERE x.subnet_id = p_subnet_id AND x.first_ordinal <= w.lo - 1 ORDER BY x.first_ordinal DESC LIMIT 1
        ) AS b WHERE b.last_ordinal >= w.lo - 1
        UNION ALL
        (SELECT x.ctid FROM free_range x
         WHERE x.subnet_id = p_subnet_id AND x.first_ordinal > w.lo - 1 AND x.first_ordinal <= w.hi + 1
         ORDER BY x.first_ordinal)
      ) AS t
    ))
    RETURNING numrange(f.first_ordinal, f.last_ordinal + 1) AS r
  )
  SELECT coalesce(range_agg(r), '{}'::nummultirange) INTO v_touched FROM gone;
  -- What inside the windows is not free: allocated and held addresses, per window. An allocated
  -- row is looked for by its ordinal and, redundantly, by its address (the same order for host
  -- addresses of one family, which 0010's guard makes every row), so whichever of the two indexes
  -- the planner picks, it scans the window only (0016). "ordinal between" is also a condition on the
  -- second column of (allocation_id, ordinal), which PostgreSQL 18 can skip-scan across every
  -- allocation; with bitmap scans off it is never ANDed in (0018's header).
  SELECT coalesce(range_agg(numrange(x.o, x.o + 1)), '{}'::nummultirange) INTO v_taken
  FROM (
    SELECT lower(r) AS lo, upper(r) AS hi,
           ordinal_to_inet(lower(r), family(v_cidr)) AS first_address, ordinal_to_inet(upper(r) - 1, family(v_cidr)) AS last_address
    FROM unnest(v_windows) AS r
  ) AS w CROSS JOIN LATERAL (
    (SELECT a.ordinal AS o FROM allocated_address a
     WHERE a.subnet_id = p_subnet_id AND a.ordinal >= w.lo AND a.ordinal < w.hi
       AND a.address >= w.first_address AND a.address <= w.last_address
     ORDER BY a.ordinal)
    UNION ALL
    (SELECT h.ordinal FROM held_address h
     WHERE h.subnet_id = p_subnet_id AND h.ordinal >= w.lo AND h.ordinal < w.hi ORDER BY h.ordinal)
  ) AS x;
  v_truth := allocatable_space(p_subnet_id) * v_windows - v_taken
             - child_space(p_subnet_id, inet_merge(ordinal_to_inet(lower(v_windows), family(v_cidr)), ordinal_to_inet(upper(v_windows) - 1, family(v_cidr))))
             - held_block_space(p_subnet_id, lower(v_windows), upper(v_windows) - 1);
  INSERT INTO free_range (subnet_id, first_ordinal, last_ordinal)
  SELECT p_subnet_id, lower(r), upper(r) - 1 FROM unnest((v_touched - v_windows) + v_truth) AS r;
END
$$;

-- CREATE OR REPLACE drops a function's settings: pin its search_path again (as 0007 does for every
-- function), keep 0016's JIT off, and turn bitmap scans off (above).
DO $$
BEGIN
  EXECUTE format('ALTER FUNCTION sync_free_ranges(integer, numeric[], numeric[]) SET search_path = %I, pg_temp', current_schema());
END
$$;
ALTER FUNCTION sync_free_ranges(integer, numeric[], numeric[]) SET jit = off;
ALTER FUNCTION sync_free_ranges(integer, numeric[], numeric[]) SET enable_bitmapscan = off;

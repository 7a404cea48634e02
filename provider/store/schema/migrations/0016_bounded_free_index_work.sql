-- Issue 25, SQL pass three. Forward only: functions are replaced, no table or row changes.
--
-- 1. A chunk's derivation reads what the chunk touches, whatever the statistics say.
--    Scenario 9 on PostgreSQL 18 (1M free ranges) failed with a statement timeout in the first
--    chunk of a random bulk: sync_free_ranges's "allocated or held inside each window" ran for
--    minutes. Right after a subnet is filled (the bench's fragmenter, an import, a restore, a big
--    bulk) the planner's statistics do not know its rows yet: the subnet is missing from
--    subnet_id's most-common values and is estimated at one row. For one row, the primary key
--    (subnet_id, address) with the ordinal as a filter costs the same as the (subnet_id, ordinal)
--    index with the ordinal in the index condition, and the planner took the primary key: each of
--    a chunk's 1,024 windows then read every row of the subnet. PostgreSQL 15 does the same given
--    the same statistics (test/allocation/chunkWorkBounded.test.ts makes them so on both servers);
--    its autovacuum had simply analysed the table sooner in the quiet runs.
--    An allocated row is now looked for by its ordinal and, redundantly, by its address, so both
--    indexes are bounded to the window whichever the planner picks (a tie-break by ORDER BY alone
--    was not enough: PostgreSQL 15 still took the primary key plus a sort, the (subnet_id,
--    ordinal) index, on wider keys, costed above the sort). Held addresses and free ranges are
--    probed in index order (ORDER BY), which decides the tie for free_range's two indexes of the
--    same shape. The audit of added addresses (below) had the same kind of trap on allocation_id.
--    The function also runs with JIT off: its statements are index probes whose estimates
--    (a window count the planner cannot see, 100 by default) put them over jit_above_cost, and on
--    a server built with LLVM (PostgreSQL 15 here) one chunk's DELETE spent ~0.5 s compiling.
-- 2. The free-space guard (0010) checked each new free range against the subnet's pools by
--    re-reading the pools and converting both ends (inet_to_ordinal, a SQL function) once per row:
--    0.3 ms a row on PostgreSQL 15 and 0.8 ms on 18, so 0.7-1.6 s of a chunk's lock hold for its
--    2,048 new ranges. The pools are now read once per statement (a materialized CTE); what is
--    refused, and the words of the refusal, are unchanged.
-- 3. The next-free path reaps an abandoned bulk too: return_expired_holds, which every locked
--    operation calls before it picks (allocate_next_batch per locked subnet, the store's locked
--    transactions), also gives back one chunk of one pending allocation (0013) whose lease ended.

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
  -- the planner picks, it scans the window only (see the header).
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

-- 0010's guard, with the allowed spans (pools, or the CIDR for free blocks) computed once.
CREATE OR REPLACE FUNCTION free_space_problem(p_index text, p_subnet_ids integer[], p_firsts numeric[], p_lasts numeric[]) RETURNS text
LANGUAGE sql STABLE
AS $$
  WITH r AS (SELECT * FROM unnest(p_subnet_ids, p_firsts, p_lasts) AS r(subnet_id, lo, hi)),
  ids AS (SELECT array_agg(DISTINCT r.subnet_id) AS ids FROM r),
  never AS MATERIALIZED (
    SELECT n.* FROM ids CROSS JOIN LATERAL never_allocatable(ids.ids) AS n
    WHERE p_index = 'free_range' OR n.kind IN ('gateway', 'reserved')
  ),
  allowed AS MATERIALIZED (
    -- A free range lies in one of the subnet's pools (none when children-only); a free block in its CIDR.
    SELECT s.id, inet_to_ordinal((p->>'start')::inet) AS lo, inet_to_ordinal((p->>'end')::inet) AS hi
    FROM ids JOIN subnet s ON s.id = ANY (ids.ids) CROSS JOIN LATERAL jsonb_array_elements(s.pools) AS p
    WHERE p_index = 'free_range' AND NOT s.children_only
    UNION ALL
    SELECT s.id, inet_to_ordinal(network(s.cidr)), inet_to_ordinal(broadcast(s.cidr))
    FROM ids JOIN subnet s ON s.id = ANY (ids.ids) WHERE p_index = 'free_block'
  )
  SELECT format('%s %s-%s of subnet %s %s', p_index, r.lo, r.hi, r.subnet_id,
                coalesce((SELECT format('covers its %s %s', n.kind, n.label) FROM never n WHERE n.subnet_id = r.subnet_id AND n.lo <= r.hi AND n.hi >= r.lo LIMIT 1),
                         CASE p_index WHEN 'free_range' THEN 'is outside its allocation pools' ELSE 'is outside its CIDR' END))
  FROM r
  WHERE NOT EXISTS (SELECT 1 FROM allowed a WHERE a.id = r.subnet_id AND a.lo <= r.lo AND r.hi <= a.hi)
     OR EXISTS (SELECT 1 FROM never n WHERE n.subnet_id = r.subnet_id AND n.lo <= r.hi AND n.hi >= r.lo)
  LIMIT 1
$$;

-- 0007's audit of added addresses, with "did the allocation hold addresses before this statement"
-- asked of at most n + 1 of its rows (n: the rows this statement added) in ordinal order, instead
-- of counting them all: the count was planned from allocation_id's statistics, and when those
-- describe a table of few allocations (a fresh bench or import: the filler allocation is 97 % of
-- the rows) the planner estimated half the table per allocation and read all of allocated_address
-- sequentially on every chunk (1M rows: 0.3 s, and 0.7 s of JIT on PostgreSQL 15). In ordinal
-- order with a limit, the (allocation_id, ordinal) index returns the rows without a sort and the
-- limit stops it, so it is the cheaper plan whatever the estimate. Same events, same words.
CREATE OR REPLACE FUNCTION audit_addresses_added() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
AS $$
BEGIN
  INSERT INTO audit_event (action, subnet_id, cidr, allocation_id, owner, addresses)
  SELECT CASE
           WHEN audit_importing() THEN 'allocation.import'
           WHEN (SELECT count(*) FROM (SELECT 1 FROM allocated_address x WHERE x.allocation_id = g.allocation_id
                                       ORDER BY x.ordinal LIMIT g.n + 1) AS held) > g.n THEN 'grow'
           ELSE 'allocate'
         END,
         g.subnet_id, (SELECT s.cidr FROM subnet s WHERE s.id = g.subnet_id), g.allocation_id,
         (SELECT a.owner FROM allocation a WHERE a.id = g.allocation_id), g.addresses
  FROM (SELECT subnet_id, allocation_id, count(*) AS n, array_agg(address ORDER BY address) AS addresses
        FROM added GROUP BY subnet_id, allocation_id) g
  ORDER BY g.allocation_id;
  RETURN NULL;
END
$$;

-- 0014's return_expired_holds, plus: a pending bulk (0013) whose lease ended (its writer died or
-- gave up) gives back its highest 1,024 addresses (BULK_CHUNK in bulkInChunks.ts) straight to the
-- free space, never held (nobody was given them), and goes once it holds none. One chunk per call,
-- so reaping never makes a lock holder hold the lock long; one index probe when nothing expired.
-- The store's locked path did this already (reapAbandonedBulk); next-free batches did not.
CREATE OR REPLACE FUNCTION return_expired_holds(p_subnet_id integer) RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  v_ordinals numeric[];
  v_count integer := 0;
  v_block cidr;
  v_pending bigint;
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
  SELECT p.allocation_id INTO v_pending FROM pending_allocation p
  WHERE p.subnet_id = p_subnet_id AND p.lease_until < now() ORDER BY p.lease_until LIMIT 1 FOR UPDATE;
  IF FOUND THEN
    WITH freed AS (
      DELETE FROM allocated_address a WHERE a.subnet_id = p_subnet_id AND a.ordinal IN (
        SELECT x.ordinal FROM allocated_address x WHERE x.allocation_id = v_pending ORDER BY x.ordinal DESC LIMIT 1024)
      RETURNING a.ordinal
    )
    SELECT array_agg(ordinal) INTO v_ordinals FROM freed;
    IF v_ordinals IS NOT NULL THEN
      UPDATE allocation SET updated_at = now() WHERE id = v_pending;
      PERFORM sync_free_ranges(p_subnet_id, v_ordinals, v_ordinals);
    END IF;
    IF coalesce(cardinality(v_ordinals), 0) < 1024 THEN
      DELETE FROM allocation WHERE id = v_pending;
    END IF;
  END IF;
  RETURN v_count;
END
$$;

-- Migration 0007 pins every function's search_path (CREATE OR REPLACE drops the setting): pin them
-- all again, as 0012 and 0014 do.
DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace LOOP
    EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f, current_schema());
  END LOOP;
END
$$;
-- JIT off where a chunk's statements are planned from default row counts (transition tables,
-- unnest of a variable) and compiled for 0.3-0.7 s per chunk on a server built with LLVM; their real
-- work is index probes and a few thousand rows. PostgreSQL 15, 1M free ranges, one chunk of 1,024:
-- the address INSERT with its triggers 0.35-0.66 s with JIT, 0.07 s without.
ALTER FUNCTION sync_free_ranges(integer, numeric[], numeric[]) SET jit = off;
ALTER FUNCTION audit_addresses_added() SET jit = off;
ALTER FUNCTION audit_addresses_removed() SET jit = off;
ALTER FUNCTION guard_allocated_addresses() SET jit = off;
ALTER FUNCTION guard_free_space_insert() SET jit = off;

-- Issue 25: 0010's guard on added addresses checked each new address against its subnet's kept
-- addresses (network, broadcast, gateway, reserved) with a correlated EXISTS over the statement's
-- "kept" CTE, which PostgreSQL evaluates by scanning the whole CTE once per added row: rows ×
-- subnets per statement. One subnet per statement (allocate, a bulk chunk) never noticed; a
-- statement that adds addresses in many subnets did: 3,000 subnets took 12.4 s in the guard
-- (PostgreSQL 15), 10,000 took 103 s, and the spilled CTE then read temporary files (the bench's
-- growth step; an import's window of 2,000 allocations spans up to 2,000 subnets).
-- The kept addresses are now joined to the added rows on the subnet id, so each added row meets
-- only its own subnet's kept addresses (a hash join: rows + subnets). What is refused, and the words
-- of the refusal (address_problem words the first offender), are unchanged.
CREATE OR REPLACE FUNCTION guard_allocated_addresses() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  v_address inet;
  v_subnet integer;
  v_problem text;
BEGIN
  WITH subnets AS MATERIALIZED (
    SELECT s.*, CASE family(s.cidr) WHEN 4 THEN 32 ELSE 128 END AS m FROM subnet s WHERE s.id IN (SELECT DISTINCT subnet_id FROM added)
  ),
  kept AS MATERIALIZED (
    SELECT s.id, r::inet AS block FROM subnets s CROSS JOIN LATERAL jsonb_array_elements_text(s.reserved) AS r
    UNION ALL
    SELECT s.id, set_masklen(s.gateway, s.m) FROM subnets s WHERE s.gateway IS NOT NULL
    UNION ALL
    SELECT s.id, set_masklen(s.cidr::inet, s.m) FROM subnets s WHERE masklen(s.cidr) < s.m - 1
    UNION ALL
    SELECT s.id, set_masklen(broadcast(s.cidr), s.m) FROM subnets s WHERE s.m = 32 AND masklen(s.cidr) < 31
  ),
  offender AS (
    (SELECT a.address, a.subnet_id FROM added a JOIN subnets s ON s.id = a.subnet_id
     WHERE family(a.address) <> family(s.cidr) OR masklen(a.address) <> s.m OR NOT a.address <<= s.cidr
     LIMIT 1)
    UNION ALL
    (SELECT a.address, a.subnet_id FROM added a JOIN kept k ON k.id = a.subnet_id AND a.address <<= k.block
     LIMIT 1)
  )
  SELECT o.address, o.subnet_id, address_problem(o.address, s) INTO v_address, v_subnet, v_problem
  FROM (SELECT * FROM offender LIMIT 1) AS o JOIN subnet s ON s.id = o.subnet_id;
  IF v_problem IS NOT NULL THEN
    RAISE EXCEPTION 'address % % (subnet %)', host(v_address), v_problem, v_subnet
      USING ERRCODE = 'check_violation', CONSTRAINT = 'allocated_address_allocatable';
  END IF;
  RETURN NULL;
END
$$;

-- CREATE OR REPLACE drops a function's settings: pin its search_path again (as 0007 does for every
-- function) and keep 0016's JIT off (its statements are probes the planner over-costs).
DO $$
BEGIN
  EXECUTE format('ALTER FUNCTION guard_allocated_addresses() SET search_path = %I, pg_temp', current_schema());
END
$$;
ALTER FUNCTION guard_allocated_addresses() SET jit = off;

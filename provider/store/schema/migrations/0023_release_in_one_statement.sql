-- Issue 25, bench scenario 13 (destroy), pass seven. Forward only: one function added, no table
-- or row changes.
--
-- A release was five client round trips on a pool connection (BEGIN, the timeouts with the
-- subnet's lock, the statement that reads and deletes the allocation, return_released, COMMIT).
-- Measured on PostgreSQL 15 (2 cores, ten /20 subnets): 4.8 ms a release one at a time, 23 ms
-- with 8 in flight, where a destroy's steps wait for it; in the provider host each round trip is a
-- client query of its own (a socket write, a parse of the answer).
--
-- release_allocation is the same release as one statement, which the store sends in one round trip
-- on a pipelined connection (BEGIN, the timeouts, this statement and COMMIT written together):
-- under the subnet's lock (taken here, the transaction's lock_timeout bounding the wait; a timeout is
-- answered 'lock_timeout', nothing changed), it reads the allocation, its claim, its addresses and
-- its subnet; deletes it when it is in that subnet and the claim is not superseded (claims.ts
-- isSuperseded: the caller's token is older than a stored one; the audit trigger records the
-- release); and gives the addresses back to the free index with return_released (0020), which keeps
-- only the ordinals the database itself finds free now. Its statements see each other's changes
-- (PL/pgSQL takes a new snapshot per statement), so return_released sees the addresses gone.
-- A subnet with a hold-down (release_hold_seconds > 0) is answered 'hold_down' with nothing changed:
-- its release keeps the client's path (space/holdDown.ts).

CREATE FUNCTION release_allocation(p_subnet_id integer, p_allocation_id bigint, p_claim text, p_lock_class integer)
RETURNS TABLE (r_status text, r_cidr text, r_ordinals text[])
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  v_subnet_id integer;
  v_claim text;
  v_cidr cidr;
  v_hold integer;
  v_ordinals numeric[];
BEGIN
  BEGIN
    PERFORM pg_advisory_xact_lock(p_lock_class, p_subnet_id);
  EXCEPTION WHEN lock_not_available THEN
    RETURN QUERY SELECT 'lock_timeout'::text, NULL::text, NULL::text[];
    RETURN;
  END;
  SELECT a.subnet_id, a.claim, s.cidr, s.release_hold_seconds,
         ARRAY(SELECT x.ordinal FROM allocated_address x WHERE x.allocation_id = a.id)
    INTO v_subnet_id, v_claim, v_cidr, v_hold, v_ordinals
  FROM allocation a JOIN subnet s ON s.id = a.subnet_id
  WHERE a.id = p_allocation_id;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'not_found'::text, NULL::text, NULL::text[];
  ELSIF v_subnet_id <> p_subnet_id THEN
    RETURN QUERY SELECT 'elsewhere'::text, NULL::text, NULL::text[];
  ELSIF p_claim IS NOT NULL AND v_claim IS NOT NULL AND v_claim <> p_claim THEN
    RETURN QUERY SELECT 'superseded'::text, NULL::text, NULL::text[];
  ELSIF v_hold > 0 THEN
    RETURN QUERY SELECT 'hold_down'::text, NULL::text, NULL::text[];
  ELSE
    DELETE FROM allocation WHERE id = p_allocation_id;
    PERFORM return_released(p_subnet_id, v_ordinals);
    RETURN QUERY SELECT 'released'::text, v_cidr::text, v_ordinals::text[];
  END IF;
END
$$;

-- Migration 0007 pins every function's search_path.
DO $$
BEGIN
  EXECUTE format('ALTER FUNCTION release_allocation(integer, bigint, text, integer) SET search_path = %I, pg_temp', current_schema());
END
$$;

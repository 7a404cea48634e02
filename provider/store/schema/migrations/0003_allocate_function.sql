-- The next-free allocation of one address as one server-side call, so the subnet's advisory lock is
-- held for the work alone and never across a client round trip (the lock is what serializes every
-- client of a subnet, so its hold time is the subnet's throughput limit).
-- Called as a single autocommit statement: the transaction-level lock is released when it commits.
-- READ COMMITTED gives each statement inside a VOLATILE PL/pgSQL function a fresh snapshot, so every
-- read below sees all commits of earlier lock holders. search_path is pinned to this schema.
CREATE FUNCTION allocate_next(
  p_subnet_id integer,
  p_owner text,
  p_idempotency_key text,
  p_description text,
  p_tags jsonb,
  p_lock_class integer,
  p_lock_timeout_ms integer
) RETURNS TABLE (
  r_status text,
  r_id bigint,
  r_created_at timestamptz,
  r_updated_at timestamptz,
  r_ip_version integer,
  r_ordinal numeric
)
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
  v_cidr cidr;
  v_lo numeric;
  v_hi numeric;
  v_address inet;
BEGIN
  PERFORM set_config('lock_timeout', p_lock_timeout_ms::text, true);
  PERFORM pg_advisory_xact_lock(p_lock_class, p_subnet_id);
  SELECT s.cidr INTO v_cidr FROM subnet s WHERE s.id = p_subnet_id;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'not_found'::text, NULL::bigint, NULL::timestamptz, NULL::timestamptz, NULL::integer, NULL::numeric;
    RETURN;
  END IF;
  SELECT f.first_ordinal, f.last_ordinal INTO v_lo, v_hi
  FROM free_range f WHERE f.subnet_id = p_subnet_id ORDER BY f.first_ordinal LIMIT 1;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'exhausted'::text, NULL::bigint, NULL::timestamptz, NULL::timestamptz, family(v_cidr), NULL::numeric;
    RETURN;
  END IF;
  IF v_lo = v_hi THEN
    DELETE FROM free_range f WHERE f.subnet_id = p_subnet_id AND f.first_ordinal = v_lo;
  ELSE
    UPDATE free_range f SET first_ordinal = v_lo + 1 WHERE f.subnet_id = p_subnet_id AND f.first_ordinal = v_lo;
  END IF;
  v_address := ordinal_to_inet(v_lo, family(v_cidr));
  INSERT INTO allocation (subnet_id, owner, idempotency_key, strategy, requested_address, description, tags)
  VALUES (p_subnet_id, p_owner, p_idempotency_key, 'sequential', NULL, p_description, p_tags)
  RETURNING allocation.id, allocation.created_at, allocation.updated_at INTO r_id, r_created_at, r_updated_at;
  INSERT INTO allocated_address (subnet_id, address, ordinal, allocation_id) VALUES (p_subnet_id, v_address, v_lo, r_id);
  INSERT INTO audit_event (action, subnet_id, cidr, allocation_id, owner, addresses)
  VALUES ('allocate', p_subnet_id, v_cidr, r_id, p_owner, ARRAY[v_address]);
  RETURN QUERY SELECT 'ok'::text, r_id, r_created_at, r_updated_at, family(v_cidr), v_lo;
END
$$;

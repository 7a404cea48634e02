-- Issue 25, scenario 2 (pass four). Forward only: one function replaced, no table or row changes.
--
-- A group-commit batch (allocate_next_batch, 0008/0011) served each request in a subtransaction of
-- its own, with one INSERT into allocation and one into allocated_address per request, so each
-- request fired allocated_address's statement-level triggers (the audit, 0007/0016; the address
-- guard, 0010/0017; the restore fence, 0011) once. Measured (PostgreSQL 15, pgbench, 16 requests
-- over 16 subnets per batch, pg_stat_user_functions): 4.2 ms of server time per batch, of which
-- the audit trigger 1.1 ms, the guard 0.6 ms, the fence 0.1 ms, return_expired_holds 0.26 ms (called
-- for every subnet, with nothing expired), and the loop's own statements and 16 subtransactions
-- the rest (see docs/benchmark-round-3.md, "Scenario 2's server work (pass four)").
--
-- Now a batch of more than one request is first served together: the same per-request picks (same
-- statements, same order, so each request gets the address it got before), then ONE insert of the
-- batch's allocations and ONE of their addresses, all in one subtransaction. The triggers fire once
-- for the batch and see every added row (the audit writes one event per allocation, as before, in
-- allocation id order; the guard checks every row, as before). If anything in it fails (an
-- idempotency key another allocation holds, a guard's refusal, a constraint), the whole attempt
-- is rolled back and the batch is served one request per subtransaction exactly as before, so each
-- request still succeeds or fails on its own, with its own error. The allocations' ids are taken
-- from their identity sequence in request order (nextval, then OVERRIDING SYSTEM VALUE), as the
-- one-by-one inserts took them, so the audit's and the caller's order is unchanged.
--
-- return_expired_holds (0011/0014/0016) is called only for the locked subnets that have an expired
-- held address, held block or pending allocation: for any other subnet it deletes nothing and
-- returns 0 (its three probes are the same conditions, asked here once for the batch).
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
LANGUAGE plpgsql SECURITY DEFINER
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
  v_count integer := coalesce(array_length(p_subnet_ids, 1), 0);
  v_together boolean := false;
  v_sequence regclass;
  v_served integer := 0;
  -- The together path's outcome per request index, returned only once all of it has succeeded.
  t_status text[];
  t_id bigint[];
  t_version integer[];
  t_prefix integer[];
  t_gateway text[];
  t_ordinal numeric[];
  t_address inet[];
  t_created timestamptz[];
  t_updated timestamptz[];
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
  FOREACH v_subnet IN ARRAY ARRAY(
    SELECT e.subnet_id FROM (
      SELECT h.subnet_id FROM held_address h WHERE h.subnet_id = ANY (v_subnets) AND h.held_until <= now()
      UNION
      SELECT b.parent_id FROM held_block b WHERE b.parent_id = ANY (v_subnets) AND b.held_until <= now()
      UNION
      SELECT p.subnet_id FROM pending_allocation p WHERE p.subnet_id = ANY (v_subnets) AND p.lease_until < now()
    ) AS e
    WHERE NOT (e.subnet_id = ANY (v_timed_out) OR e.subnet_id = ANY (v_busy))
    ORDER BY e.subnet_id
  ) LOOP
    PERFORM return_expired_holds(v_subnet);
  END LOOP;

  IF v_count > 1 THEN
    t_status := array_fill(NULL::text, ARRAY[v_count]);
    t_id := array_fill(NULL::bigint, ARRAY[v_count]);
    t_version := array_fill(NULL::integer, ARRAY[v_count]);
    t_prefix := array_fill(NULL::integer, ARRAY[v_count]);
    t_gateway := array_fill(NULL::text, ARRAY[v_count]);
    t_ordinal := array_fill(NULL::numeric, ARRAY[v_count]);
    t_address := array_fill(NULL::inet, ARRAY[v_count]);
    BEGIN
      v_sequence := pg_get_serial_sequence('allocation', 'id')::regclass;
      FOR i IN 1 .. v_count LOOP
        v_subnet := p_subnet_ids[i];
        IF v_subnet = ANY (v_timed_out) OR v_subnet = ANY (v_busy) THEN
          t_status[i] := CASE WHEN v_subnet = ANY (v_busy) THEN 'busy' ELSE 'lock_timeout' END;
          CONTINUE;
        END IF;
        SELECT s.cidr, s.gateway INTO v_cidr, v_gateway FROM subnet s WHERE s.id = v_subnet;
        IF NOT FOUND THEN
          t_status[i] := 'not_found';
          CONTINUE;
        END IF;
        t_version[i] := family(v_cidr);
        t_prefix[i] := masklen(v_cidr);
        t_gateway[i] := host(v_gateway);
        SELECT f.first_ordinal, f.last_ordinal INTO v_lo, v_hi
        FROM free_range f WHERE f.subnet_id = v_subnet ORDER BY f.first_ordinal LIMIT 1;
        IF NOT FOUND THEN
          t_status[i] := 'exhausted';
          CONTINUE;
        END IF;
        IF v_lo = v_hi THEN
          DELETE FROM free_range f WHERE f.subnet_id = v_subnet AND f.first_ordinal = v_lo;
        ELSE
          UPDATE free_range f SET first_ordinal = v_lo + 1 WHERE f.subnet_id = v_subnet AND f.first_ordinal = v_lo;
        END IF;
        t_ordinal[i] := v_lo;
        t_address[i] := ordinal_to_inet(v_lo, t_version[i]);
        t_id[i] := nextval(v_sequence);
        t_status[i] := 'ok';
      END LOOP;
      WITH added AS (
        INSERT INTO allocation (id, subnet_id, owner, idempotency_key, strategy, requested_address, description, tags)
        OVERRIDING SYSTEM VALUE
        SELECT t_id[i], p_subnet_ids[i], p_owners[i], p_keys[i], 'sequential', NULL, p_descriptions[i], p_tags[i]
        FROM generate_subscripts(t_status, 1) AS i WHERE t_status[i] = 'ok' ORDER BY i
        RETURNING allocation.id, allocation.created_at, allocation.updated_at
      )
      SELECT array_agg(a.created_at ORDER BY a.id), array_agg(a.updated_at ORDER BY a.id) INTO t_created, t_updated FROM added a;
      INSERT INTO allocated_address (subnet_id, address, ordinal, allocation_id)
      SELECT p_subnet_ids[i], t_address[i], t_ordinal[i], t_id[i]
      FROM generate_subscripts(t_status, 1) AS i WHERE t_status[i] = 'ok' ORDER BY i;
      v_together := true;
    EXCEPTION WHEN OTHERS THEN
      -- Some request's own failure: nothing of the attempt stays, and the loop below answers each
      -- request on its own.
      v_together := false;
    END;
  END IF;

  IF v_together THEN
    FOR i IN 1 .. v_count LOOP
      r_index := i;
      r_status := t_status[i];
      r_ip_version := t_version[i];
      r_prefix_length := t_prefix[i];
      r_gateway := t_gateway[i];
      r_sqlstate := NULL; r_constraint := NULL; r_message := NULL;
      IF r_status = 'ok' THEN
        -- Ids were taken in request order, so the k-th served request is the k-th id.
        v_served := v_served + 1;
        r_id := t_id[i];
        r_created_at := t_created[v_served];
        r_updated_at := t_updated[v_served];
        r_ordinal := t_ordinal[i];
      ELSE
        r_id := NULL; r_created_at := NULL; r_updated_at := NULL; r_ordinal := NULL;
      END IF;
      RETURN NEXT;
    END LOOP;
    RETURN;
  END IF;

  FOR i IN 1 .. v_count LOOP
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

-- CREATE OR REPLACE drops a function's settings: pin its search_path again, as 0007 does for every
-- function.
DO $$
BEGIN
  EXECUTE format('ALTER FUNCTION allocate_next_batch(integer[], text[], text[], text[], jsonb[], integer, integer) SET search_path = %I, pg_temp', current_schema());
END
$$;

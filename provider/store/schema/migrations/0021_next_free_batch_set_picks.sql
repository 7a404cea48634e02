-- Issue 25, scenario 2 (pass five). Forward only: two functions replaced, no table or row changes.
--
-- allocate_next_batch (0019) served a batch's requests together but still picked each request's
-- address with three single-row statements of its own (the subnet, its first free range, that
-- range's update or delete): 48 statements for a batch of 16, the largest share of the function's
-- own time (docs/benchmark-round-3.md, "Scenario 2, pass five"). The together path now picks for
-- the whole batch in one statement: the k-th request (in request order) for a subnet gets the
-- subnet's k-th lowest free ordinal, which is exactly what k one-at-a-time picks give (each takes
-- the lowest free ordinal and removes it), so every request gets the address, status and error it
-- got before; a request for a subnet with fewer than k free ordinals is 'exhausted', as the k-th
-- one-at-a-time pick was. The free-range rows those picks use up are deleted and the one they cut
-- into is shortened in the same statement (at most n ranges per subnet with n requests are read).
-- Everything else is 0019's: the locks, the expired-hold probes, ids in request order, one insert
-- per table, the fallback to one request per subtransaction when anything in the attempt fails
-- (which rolls the picks back with it).
--
-- audit_addresses_added (0016): importing or not is one fact per statement, so it is asked once (an
-- uncorrelated subquery, evaluated once) instead of once per added allocation; same rows written.
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
    t_id := array_fill(NULL::bigint, ARRAY[v_count]);
    BEGIN
      v_sequence := pg_get_serial_sequence('allocation', 'id')::regclass;
      -- The picks of the whole batch in one statement (see the header): each request's status and
      -- subnet facts, and the k-th request of a subnet gets the subnet's k-th lowest free ordinal.
      WITH request AS (
        SELECT r.i::integer AS i, r.subnet_id,
               row_number() OVER (PARTITION BY r.subnet_id ORDER BY r.i) AS k,
               r.subnet_id = ANY (v_busy) AS busy, r.subnet_id = ANY (v_timed_out) AS timed_out
        FROM unnest(p_subnet_ids) WITH ORDINALITY AS r(subnet_id, i)
      ),
      wanted AS (
        SELECT s.id AS subnet_id, s.cidr, s.gateway, count(*) AS n
        FROM request q JOIN subnet s ON s.id = q.subnet_id
        WHERE NOT (q.busy OR q.timed_out)
        GROUP BY s.id, s.cidr, s.gateway
      ),
      -- A subnet's n requests need at most its n lowest ranges; `upto` counts the free ordinals up
      -- to and including each range.
      offered AS MATERIALIZED (
        SELECT w.subnet_id, w.n, f.first_ordinal, f.last_ordinal,
               sum(f.last_ordinal - f.first_ordinal + 1) OVER (PARTITION BY w.subnet_id ORDER BY f.first_ordinal) AS upto
        FROM wanted w
        CROSS JOIN LATERAL (
          SELECT x.first_ordinal, x.last_ordinal FROM free_range x
          WHERE x.subnet_id = w.subnet_id ORDER BY x.first_ordinal LIMIT w.n
        ) AS f
      ),
      used_up AS (
        DELETE FROM free_range f USING offered o
        WHERE f.subnet_id = o.subnet_id AND f.first_ordinal = o.first_ordinal AND o.upto <= o.n
      ),
      cut AS (
        UPDATE free_range f SET first_ordinal = o.last_ordinal + 1 - (o.upto - o.n)
        FROM offered o
        WHERE f.subnet_id = o.subnet_id AND f.first_ordinal = o.first_ordinal
          AND o.upto > o.n AND o.upto - (o.last_ordinal - o.first_ordinal + 1) < o.n
      ),
      picked AS (
        SELECT q.i,
               CASE WHEN q.busy THEN 'busy' WHEN q.timed_out THEN 'lock_timeout' WHEN w.subnet_id IS NULL THEN 'not_found'
                    WHEN o.subnet_id IS NULL THEN 'exhausted' ELSE 'ok' END AS status,
               family(w.cidr) AS version, masklen(w.cidr) AS prefix, host(w.gateway) AS gateway,
               o.last_ordinal - (o.upto - q.k) AS ordinal
        FROM request q
        LEFT JOIN wanted w ON w.subnet_id = q.subnet_id AND NOT (q.busy OR q.timed_out)
        LEFT JOIN offered o ON o.subnet_id = w.subnet_id
          AND q.k <= o.upto AND q.k > o.upto - (o.last_ordinal - o.first_ordinal + 1)
      )
      SELECT array_agg(p.status ORDER BY p.i), array_agg(p.version ORDER BY p.i), array_agg(p.prefix ORDER BY p.i),
             array_agg(p.gateway ORDER BY p.i), array_agg(p.ordinal ORDER BY p.i),
             array_agg(ordinal_to_inet(p.ordinal, p.version) ORDER BY p.i)
      INTO t_status, t_version, t_prefix, t_gateway, t_ordinal, t_address
      FROM picked p;
      -- Ids in request order, as the one-by-one inserts take them.
      FOR i IN 1 .. v_count LOOP
        IF t_status[i] = 'ok' THEN
          t_id[i] := nextval(v_sequence);
        END IF;
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

CREATE OR REPLACE FUNCTION audit_addresses_added() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
AS $$
BEGIN
  INSERT INTO audit_event (action, subnet_id, cidr, allocation_id, owner, addresses)
  SELECT CASE
           WHEN (SELECT audit_importing()) THEN 'allocation.import'
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
ALTER FUNCTION audit_addresses_added() SET jit = off;

-- CREATE OR REPLACE drops a function's settings: pin the search_path again, as 0007 does for every
-- function, and JIT off again for the audit (0016).
DO $$
BEGIN
  EXECUTE format('ALTER FUNCTION allocate_next_batch(integer[], text[], text[], text[], jsonb[], integer, integer) SET search_path = %I, pg_temp', current_schema());
  EXECUTE format('ALTER FUNCTION audit_addresses_added() SET search_path = %I, pg_temp', current_schema());
END
$$;

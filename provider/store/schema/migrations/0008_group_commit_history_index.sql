-- Group commit for next-free allocations (issue 14): the requests one process has waiting are
-- served by one statement, i.e. one transaction and one commit, under every subnet's advisory lock.
-- Under one subnet's lock the throughput limit is the lock-to-lock interval, and most of that is
-- per-transaction cost (the round trip, the commit's WAL flush, the lock hand-over); a batch pays it
-- once for all of its requests.
--
-- What each request observes is what allocate_next (migration 0003) gives it alone:
-- * the locks of all subnets named are taken first, before any request is served (a lock taken
--   inside a request's subtransaction would be released if that request were rolled back). A batch
--   for one subnet waits for its lock (lock_timeout, as allocate_next; on timeout its requests get
--   'lock_timeout'). A batch spanning several subnets only tries each lock, in ascending id order,
--   and never waits while holding another: a request whose subnet is busy gets 'busy' and the
--   caller sends it again in a one-subnet batch, so no request ever waits on another subnet's lock;
-- * requests are served in array order (the order they arrived in the process), each reading the
--   lowest free range after the previous one wrote, so arrival order gives the lowest addresses;
-- * each request runs in its own subtransaction (BEGIN ... EXCEPTION): one that fails (a twin's
--   idempotency key, a constraint) is rolled back alone and reported with its SQLSTATE, constraint
--   and message; a missing or exhausted subnet writes nothing and is reported as such;
-- * each successful request writes its own allocation (owner, key, description, tags), address and
--   audit row, exactly as allocate_next does.
-- Locks are never taken inside a request's subtransaction: rolling that back would release them.
-- The outputs also carry the subnet's prefix length and gateway, so a create needs no second read.
CREATE FUNCTION allocate_next_batch(
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
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
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

  FOR i IN 1 .. coalesce(array_length(p_subnet_ids, 1), 0) LOOP
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
          -- The allocated_address trigger (migration 0007) writes the audit row.
          r_ordinal := v_lo;
          r_status := 'ok';
        END IF;
      END IF;
    EXCEPTION WHEN OTHERS THEN
      -- Everything this request wrote is rolled back with its subtransaction; earlier and later
      -- requests of the batch are untouched.
      GET STACKED DIAGNOSTICS r_sqlstate = RETURNED_SQLSTATE, r_constraint = CONSTRAINT_NAME, r_message = MESSAGE_TEXT;
      r_status := 'error';
      r_id := NULL; r_created_at := NULL; r_updated_at := NULL; r_ordinal := NULL;
    END;
    RETURN NEXT;
  END LOOP;
END
$$;

-- `history --address` (issue 14): the filter was `address = ANY(addresses)`, which no index serves,
-- so it scanned every audit event. It is now `addresses @> ARRAY[address]`, served by this GIN
-- index (fastupdate's pending list keeps each audit insert cheap; `npm run bench -- --only 8`
-- measures what it costs an allocation). `history --owner` is served by audit_event_owner (0001).
-- Building it locks audit_event against writes for as long as the build takes on an existing
-- database (seconds per million events).
CREATE INDEX audit_event_addresses ON audit_event USING gin (addresses);

-- Migration 0007 pins every function's search_path; pin the one this migration adds likewise.
DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace LOOP
    EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f, current_schema());
  END LOOP;
END
$$;

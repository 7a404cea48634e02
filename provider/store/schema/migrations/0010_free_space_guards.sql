-- Third security review (issue 22), item 4. Forward only; no row is changed or removed.
--
-- The least-privilege role writes the free-space indexes (free_range, free_block) itself, so a
-- login in ipam_app could delete a subnet's free ranges and insert one starting at the gateway:
-- the next next-free request of another owner was handed the gateway, and nothing was recorded.
-- The database now refuses, whoever writes:
-- * an allocated address that is not a host address of its subnet, or is its network or broadcast
--   address (IPv4 below /31), its subnet-router anycast address (IPv6 below /127), its gateway or
--   inside a reserved entry (allocated_address);
-- * a subnet whose new gateway or reserved entries cover an allocated address (subnet);
-- * a free range outside the subnet's pools (any in a children-only subnet) or covering one of those
--   addresses, and a free block outside its subnet's CIDR or covering its gateway or a reserved
--   entry (free_range and free_block: new rows, and rows an UPDATE makes larger).
-- So whatever the index says, no allocation can land on an address the subnet keeps back. Deleting
-- index rows can still hide free space (the subnet looks fuller than it is) without an audit row.
--
-- Also item 4: the transaction-local hint ipam.audit_action = 'import' (and the hint's sourceId)
-- labelled a direct insert by any role as an import, with a forged source and no child.carve on the
-- parent. Import moves the id sequences, which only the schema owner (or whom it grants) may do
-- (snapshotImport's refuseWithoutSequenceRights), so the hint is honoured only for a session whose
-- login has that right. These functions run as the schema owner (SECURITY DEFINER triggers), so
-- they ask about session_user, the login, not current_user.

CREATE OR REPLACE FUNCTION audit_may_import() RETURNS boolean
LANGUAGE sql STABLE
AS $$
  SELECT has_sequence_privilege(session_user, pg_get_serial_sequence(format('%I.subnet', current_schema()), 'id'), 'USAGE')
      OR has_sequence_privilege(session_user, pg_get_serial_sequence(format('%I.subnet', current_schema()), 'id'), 'UPDATE')
$$;

CREATE OR REPLACE FUNCTION audit_importing() RETURNS boolean
LANGUAGE sql STABLE
AS $$ SELECT coalesce(current_setting('ipam.audit_action', true), '') = 'import' AND audit_may_import() $$;

-- The hint's known keys only; sourceId (an imported subnet's id in its source) only for an import.
CREATE OR REPLACE FUNCTION audit_hint() RETURNS jsonb
LANGUAGE sql STABLE
AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object('strategy', h->>'strategy', 'sourceId', CASE WHEN audit_importing() THEN h->>'sourceId' END))
  FROM (SELECT coalesce(nullif(current_setting('ipam.audit_detail', true), ''), '{}')::jsonb AS h) AS hint
$$;

-- What no allocation and no free range may cover, per subnet, as ordinal ranges. kind: network,
-- broadcast, gateway or reserved.
CREATE FUNCTION never_allocatable(p_subnet_ids integer[]) RETURNS TABLE (subnet_id integer, lo numeric, hi numeric, kind text, label text)
LANGUAGE sql STABLE
AS $$
  SELECT s.id, inet_to_ordinal(network(s.cidr)), inet_to_ordinal(network(s.cidr)), 'network', host(network(s.cidr))
  FROM subnet s WHERE s.id = ANY (p_subnet_ids) AND masklen(s.cidr) < CASE family(s.cidr) WHEN 4 THEN 31 ELSE 127 END
  UNION ALL
  SELECT s.id, inet_to_ordinal(broadcast(s.cidr)), inet_to_ordinal(broadcast(s.cidr)), 'broadcast', host(broadcast(s.cidr))
  FROM subnet s WHERE s.id = ANY (p_subnet_ids) AND family(s.cidr) = 4 AND masklen(s.cidr) < 31
  UNION ALL
  SELECT s.id, inet_to_ordinal(s.gateway), inet_to_ordinal(s.gateway), 'gateway', host(s.gateway)
  FROM subnet s WHERE s.id = ANY (p_subnet_ids) AND s.gateway IS NOT NULL
  UNION ALL
  SELECT s.id, inet_to_ordinal(network(r::cidr)), inet_to_ordinal(broadcast(r::cidr)), 'reserved', r
  FROM subnet s CROSS JOIN LATERAL jsonb_array_elements_text(s.reserved) AS r WHERE s.id = ANY (p_subnet_ids)
$$;

-- The first of the given free-index rows the subnet forbids, described, or NULL when all are fine.
-- Set-based, so a rebuild inserting 100,000 ranges is checked in one statement.
CREATE FUNCTION free_space_problem(p_index text, p_subnet_ids integer[], p_firsts numeric[], p_lasts numeric[]) RETURNS text
LANGUAGE sql STABLE
AS $$
  WITH r AS (SELECT * FROM unnest(p_subnet_ids, p_firsts, p_lasts) AS r(subnet_id, lo, hi)),
  ids AS (SELECT array_agg(DISTINCT r.subnet_id) AS ids FROM r),
  never AS (
    SELECT n.* FROM ids CROSS JOIN LATERAL never_allocatable(ids.ids) AS n
    WHERE p_index = 'free_range' OR n.kind IN ('gateway', 'reserved')
  ),
  allowed AS (
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

CREATE FUNCTION refuse_free_space(p_problem text) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
  IF p_problem IS NOT NULL THEN
    RAISE EXCEPTION 'the free-space index may not offer what the subnet keeps back: %', p_problem
      USING ERRCODE = 'check_violation', CONSTRAINT = 'free_space_allocatable';
  END IF;
END
$$;

CREATE FUNCTION guard_free_space_insert() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  PERFORM refuse_free_space(free_space_problem(TG_TABLE_NAME, array_agg(subnet_id), array_agg(first_ordinal), array_agg(last_ordinal))) FROM added;
  RETURN NULL;
END
$$;

-- An UPDATE that only shrinks a row (every allocation does) never calls this: see the WHEN clauses.
CREATE FUNCTION guard_free_space_update() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  PERFORM refuse_free_space(free_space_problem(TG_TABLE_NAME, ARRAY[NEW.subnet_id], ARRAY[NEW.first_ordinal], ARRAY[NEW.last_ordinal]));
  RETURN NEW;
END
$$;

CREATE TRIGGER guard_free_range_insert AFTER INSERT ON free_range REFERENCING NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION guard_free_space_insert();
CREATE TRIGGER guard_free_range_update BEFORE UPDATE ON free_range FOR EACH ROW
  WHEN (NEW.subnet_id <> OLD.subnet_id OR NEW.first_ordinal < OLD.first_ordinal OR NEW.last_ordinal > OLD.last_ordinal)
  EXECUTE FUNCTION guard_free_space_update();
CREATE TRIGGER guard_free_block_insert AFTER INSERT ON free_block REFERENCING NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION guard_free_space_insert();
CREATE TRIGGER guard_free_block_update BEFORE UPDATE ON free_block FOR EACH ROW
  WHEN (NEW.subnet_id <> OLD.subnet_id OR NEW.first_ordinal < OLD.first_ordinal OR NEW.last_ordinal > OLD.last_ordinal)
  EXECUTE FUNCTION guard_free_space_update();

-- Why an address may not be allocated in the subnet, or NULL. Host addresses only: a /24-masked
-- "10.0.0.1" would be another key in allocated_address's primary key. Compared as inet (a host
-- address of the subnet's family and full mask), which costs no text per row.
CREATE FUNCTION address_problem(p_address inet, p_subnet subnet) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
  SELECT CASE
    WHEN family(p_address) <> family(p_subnet.cidr) OR masklen(p_address) <> m THEN 'is not a host address of its subnet'
    WHEN NOT p_address <<= p_subnet.cidr THEN 'is outside its subnet'
    WHEN masklen(p_subnet.cidr) < m - 1 AND p_address = set_masklen(p_subnet.cidr::inet, m)
      THEN CASE m WHEN 32 THEN 'is its subnet''s network address' ELSE 'is its subnet''s subnet-router anycast address' END
    WHEN m = 32 AND masklen(p_subnet.cidr) < 31 AND p_address = set_masklen(broadcast(p_subnet.cidr), m) THEN 'is its subnet''s broadcast address'
    WHEN p_address = set_masklen(p_subnet.gateway, m) THEN 'is its subnet''s gateway'
    WHEN EXISTS (SELECT 1 FROM jsonb_array_elements_text(p_subnet.reserved) AS r WHERE p_address <<= r::inet) THEN 'is reserved in its subnet'
  END
  FROM (SELECT CASE family(p_subnet.cidr) WHEN 4 THEN 32 ELSE 128 END AS m) AS full_mask
$$;

CREATE FUNCTION guard_allocated_addresses() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  v_address inet;
  v_subnet integer;
  v_problem text;
BEGIN
  -- The test is written out here rather than calling address_problem per row: a statement may add
  -- a million addresses, and a function call per row would cost seconds. address_problem then
  -- words the first offender.
  WITH subnets AS (
    SELECT s.*, CASE family(s.cidr) WHEN 4 THEN 32 ELSE 128 END AS m FROM subnet s WHERE s.id IN (SELECT DISTINCT subnet_id FROM added)
  ),
  kept AS (
    SELECT s.id, r::inet AS block FROM subnets s CROSS JOIN LATERAL jsonb_array_elements_text(s.reserved) AS r
    UNION ALL
    SELECT s.id, set_masklen(s.gateway, s.m) FROM subnets s WHERE s.gateway IS NOT NULL
    UNION ALL
    SELECT s.id, set_masklen(s.cidr::inet, s.m) FROM subnets s WHERE masklen(s.cidr) < s.m - 1
    UNION ALL
    SELECT s.id, set_masklen(broadcast(s.cidr), s.m) FROM subnets s WHERE s.m = 32 AND masklen(s.cidr) < 31
  ),
  offender AS (
    SELECT a.address, a.subnet_id FROM added a JOIN subnets s ON s.id = a.subnet_id
    WHERE family(a.address) <> family(s.cidr) OR masklen(a.address) <> s.m OR NOT a.address <<= s.cidr
       OR EXISTS (SELECT 1 FROM kept k WHERE k.id = a.subnet_id AND a.address <<= k.block)
    LIMIT 1
  )
  SELECT o.address, o.subnet_id, address_problem(o.address, s) INTO v_address, v_subnet, v_problem
  FROM offender o JOIN subnet s ON s.id = o.subnet_id;
  IF v_problem IS NOT NULL THEN
    RAISE EXCEPTION 'address % % (subnet %)', host(v_address), v_problem, v_subnet
      USING ERRCODE = 'check_violation', CONSTRAINT = 'allocated_address_allocatable';
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER guard_allocated_addresses AFTER INSERT ON allocated_address REFERENCING NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION guard_allocated_addresses();

-- A subnet may not take as gateway or reserved an address that is allocated.
CREATE FUNCTION guard_subnet_keeps_allocations() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  v_address inet;
  v_problem text;
BEGIN
  -- Index probes on allocated_address's primary key (subnet_id, address): the gateway, then each reserved entry.
  SELECT a.address, address_problem(a.address, NEW) INTO v_address, v_problem
  FROM (
    SELECT a.address FROM allocated_address a
    WHERE a.subnet_id = NEW.id AND a.address = set_masklen(NEW.gateway, CASE family(NEW.cidr) WHEN 4 THEN 32 ELSE 128 END)
    UNION ALL
    SELECT a.address FROM jsonb_array_elements_text(NEW.reserved) AS r
    JOIN allocated_address a ON a.subnet_id = NEW.id AND a.address <<= r::inet
  ) AS a
  LIMIT 1;
  IF v_problem IS NOT NULL THEN
    RAISE EXCEPTION 'allocated address % % (subnet %)', host(v_address), v_problem, NEW.id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'allocated_address_allocatable';
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER guard_subnet_keeps_allocations AFTER UPDATE OF gateway, reserved ON subnet FOR EACH ROW
  WHEN (NEW.gateway IS DISTINCT FROM OLD.gateway OR NEW.reserved IS DISTINCT FROM OLD.reserved)
  EXECUTE FUNCTION guard_subnet_keeps_allocations();

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

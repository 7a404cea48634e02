-- Second security review (issue 13), items 4 and 5.
--
-- Item 4: the history is written by the database, not by the client. Triggers on subnet, allocation
-- and allocated_address write the audit row of every change in the statement that makes it, as
-- SECURITY DEFINER functions owned by the schema owner; the least-privilege role (roles/ipam_app.sql)
-- may only read audit_event. So a client cannot change data without its audit row, cannot write an
-- audit row that describes no change, and cannot choose an audit row's id or time. What the
-- database cannot see, the store passes as a transaction-local hint (ipam.audit_action = 'import',
-- ipam.audit_detail = {"strategy", "sourceId"}); a hint only labels a row a real change writes.
--
-- Item 5: a function whose search_path does not list pg_temp searches it FIRST, so a temporary
-- table named like one of ours (free_range) shadowed it inside allocate_next. Every function of this
-- schema now pins "search_path = <schema>, pg_temp" (pg_catalog is searched before both). The
-- schema's name is configurable: the runner sets search_path to it, so current_schema() names it.

-- allocate_next (migration 0003) without its own audit insert: the allocated_address trigger writes it.
CREATE OR REPLACE FUNCTION allocate_next(
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
  RETURN QUERY SELECT 'ok'::text, r_id, r_created_at, r_updated_at, family(v_cidr), v_lo;
END
$$;

-- The hint's known keys only, so a hint can label a change but never add claims of its own.
CREATE FUNCTION audit_hint() RETURNS jsonb
LANGUAGE sql STABLE
AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object('strategy', h->>'strategy', 'sourceId', h->>'sourceId'))
  FROM (SELECT coalesce(nullif(current_setting('ipam.audit_detail', true), ''), '{}')::jsonb AS h) AS hint
$$;

CREATE FUNCTION audit_importing() RETURNS boolean
LANGUAGE sql STABLE
AS $$ SELECT coalesce(current_setting('ipam.audit_action', true), '') = 'import' $$;

-- Columns whose values differ between two versions of a row, leaving out bookkeeping columns.
CREATE FUNCTION audit_changed_columns(old_row jsonb, new_row jsonb, ignored text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE
AS $$
  SELECT coalesce(array_agg(o.key ORDER BY o.key), '{}')
  FROM jsonb_each(old_row) o JOIN jsonb_each(new_row) n USING (key)
  WHERE o.value IS DISTINCT FROM n.value AND NOT o.key = ANY(ignored)
$$;

CREATE FUNCTION audit_subnet() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
  v_hint jsonb := audit_hint();
  v_changed text[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO audit_event (action, subnet_id, cidr, detail)
    SELECT CASE WHEN audit_importing() THEN 'subnet.import' ELSE 'subnet.create' END, NEW.id, NEW.cidr,
           jsonb_build_object('namespace', n.name)
           || CASE WHEN NEW.parent_id IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('parentId', NEW.parent_id::text) END
           || v_hint
    FROM namespace n WHERE n.id = NEW.namespace_id;
    IF NEW.parent_id IS NOT NULL AND NOT audit_importing() THEN
      INSERT INTO audit_event (action, subnet_id, cidr, detail)
      VALUES ('child.carve', NEW.parent_id, NEW.cidr, jsonb_build_object('childId', NEW.id::text) || (v_hint - 'sourceId'));
    END IF;
  ELSIF TG_OP = 'UPDATE' THEN
    v_changed := audit_changed_columns(to_jsonb(OLD), to_jsonb(NEW), '{updated_at,free_blocks_built}');
    IF v_changed = '{claim}' THEN
      INSERT INTO audit_event (action, subnet_id, cidr) VALUES ('subnet.claim', NEW.id, NEW.cidr);
    ELSIF cardinality(v_changed) > 0 OR OLD.updated_at IS DISTINCT FROM NEW.updated_at THEN
      -- Building the free-block index (free_blocks_built alone) is bookkeeping, not a change.
      INSERT INTO audit_event (action, subnet_id, cidr, detail)
      VALUES ('subnet.update', NEW.id, NEW.cidr, jsonb_build_object('changed', to_jsonb(v_changed)));
    END IF;
  ELSE
    INSERT INTO audit_event (action, subnet_id, cidr) VALUES ('subnet.delete', OLD.id, OLD.cidr);
    IF OLD.parent_id IS NOT NULL THEN
      INSERT INTO audit_event (action, subnet_id, cidr, detail)
      VALUES ('child.return', OLD.parent_id, OLD.cidr, jsonb_build_object('childId', OLD.id::text));
    END IF;
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER audit_subnet AFTER INSERT OR UPDATE OR DELETE ON subnet FOR EACH ROW EXECUTE FUNCTION audit_subnet();

-- An allocation's addresses are logged by allocated_address's triggers; a release before its
-- addresses cascade away, so its row lists them.
CREATE FUNCTION audit_allocation() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
  v_changed text[];
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO audit_event (action, subnet_id, cidr, allocation_id, owner, addresses)
    SELECT 'release', OLD.subnet_id, (SELECT s.cidr FROM subnet s WHERE s.id = OLD.subnet_id), OLD.id, OLD.owner,
           coalesce((SELECT array_agg(a.address ORDER BY a.address) FROM allocated_address a WHERE a.allocation_id = OLD.id), '{}');
    RETURN OLD;
  END IF;
  v_changed := audit_changed_columns(to_jsonb(OLD), to_jsonb(NEW), '{updated_at}');
  IF 'owner' = ANY(v_changed) THEN
    INSERT INTO audit_event (action, subnet_id, cidr, allocation_id, owner, detail)
    SELECT 'adopt', NEW.subnet_id, s.cidr, NEW.id, NEW.owner,
           jsonb_build_object('previousOwner', OLD.owner)
           || CASE WHEN v_changed <@ '{owner,claim}' THEN '{}'::jsonb ELSE jsonb_build_object('changed', to_jsonb(v_changed)) END
    FROM (SELECT (SELECT cidr FROM subnet WHERE id = NEW.subnet_id) AS cidr) s;
  ELSIF v_changed = '{claim}' THEN
    INSERT INTO audit_event (action, subnet_id, cidr, allocation_id, owner)
    VALUES ('claim', NEW.subnet_id, (SELECT s.cidr FROM subnet s WHERE s.id = NEW.subnet_id), NEW.id, NEW.owner);
  ELSIF cardinality(v_changed) > 0 THEN
    INSERT INTO audit_event (action, subnet_id, cidr, allocation_id, owner, detail)
    VALUES ('allocation.update', NEW.subnet_id, (SELECT s.cidr FROM subnet s WHERE s.id = NEW.subnet_id), NEW.id, NEW.owner,
            jsonb_build_object('changed', to_jsonb(v_changed)));
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER audit_allocation_release BEFORE DELETE ON allocation FOR EACH ROW EXECUTE FUNCTION audit_allocation();
CREATE TRIGGER audit_allocation_update AFTER UPDATE ON allocation FOR EACH ROW EXECUTE FUNCTION audit_allocation();

-- One row per allocation per statement (a 65,536-address allocation is one event): 'allocate' when
-- these are the allocation's only addresses, 'grow' when it held some before.
CREATE FUNCTION audit_addresses_added() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
AS $$
BEGIN
  INSERT INTO audit_event (action, subnet_id, cidr, allocation_id, owner, addresses)
  SELECT CASE
           WHEN audit_importing() THEN 'allocation.import'
           WHEN (SELECT count(*) FROM allocated_address x WHERE x.allocation_id = g.allocation_id) > g.n THEN 'grow'
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
CREATE TRIGGER audit_addresses_added AFTER INSERT ON allocated_address REFERENCING NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION audit_addresses_added();

-- Addresses removed from an allocation that still exists: 'shrink'. (When the allocation itself
-- was deleted, its BEFORE DELETE trigger already wrote 'release' with these addresses.)
CREATE FUNCTION audit_addresses_removed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
AS $$
BEGIN
  INSERT INTO audit_event (action, subnet_id, cidr, allocation_id, owner, addresses)
  SELECT 'shrink', g.subnet_id, (SELECT s.cidr FROM subnet s WHERE s.id = g.subnet_id), g.allocation_id, a.owner, g.addresses
  FROM (SELECT subnet_id, allocation_id, array_agg(address ORDER BY address) AS addresses
        FROM removed GROUP BY subnet_id, allocation_id) g
  JOIN allocation a ON a.id = g.allocation_id
  ORDER BY g.allocation_id;
  RETURN NULL;
END
$$;
CREATE TRIGGER audit_addresses_removed AFTER DELETE ON allocated_address REFERENCING OLD TABLE AS removed
  FOR EACH STATEMENT EXECUTE FUNCTION audit_addresses_removed();

-- Nothing moves an address between allocations or subnets: release and allocate instead, so both
-- are in the history. A namespace is never renamed (that would move its subnets silently).
CREATE FUNCTION refuse_address_move() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  RAISE EXCEPTION 'allocated addresses are never changed in place'
    USING ERRCODE = 'insufficient_privilege', HINT = 'release and allocate instead, so the history records both';
END
$$;
CREATE TRIGGER refuse_address_move BEFORE UPDATE ON allocated_address FOR EACH ROW EXECUTE FUNCTION refuse_address_move();

-- upsertNamespace's ON CONFLICT DO UPDATE sets the same name, which stays allowed.
CREATE FUNCTION refuse_namespace_rename() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF NEW.name IS DISTINCT FROM OLD.name OR NEW.id IS DISTINCT FROM OLD.id THEN
    RAISE EXCEPTION 'namespaces are never renamed' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER refuse_namespace_rename BEFORE UPDATE ON namespace FOR EACH ROW EXECUTE FUNCTION refuse_namespace_rename();

-- Item 5: pin search_path on every function of this schema (the ones above included).
DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace LOOP
    EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f, current_schema());
  END LOOP;
END
$$;

-- Hold-down for child prefixes (issue 23): a child subnet deleted from a parent whose
-- release_hold_seconds is above 0 leaves its block in held_block, not in the parent's free blocks
-- nor its free ranges, until held_until (the database's clock): first-fit, best-fit and next-free
-- read those indexes only, so held blocks cost them nothing. Numbered 0013 to sort after a
-- parallel 0012; nothing here depends on it.
CREATE TABLE held_block (
  parent_id integer NOT NULL REFERENCES subnet (id) ON DELETE CASCADE,
  cidr cidr NOT NULL,
  first_ordinal numeric(39, 0) NOT NULL,
  last_ordinal numeric(39, 0) NOT NULL,
  held_until timestamptz NOT NULL,
  -- The released child (gone: no foreign key) and its idempotency key, to say who released it.
  child_id integer NOT NULL,
  child_key text,
  -- The parts of the block that go back to the parent's free ranges on expiry (the block clipped to
  -- the parent's allocatable space; kept current when the parent's layout changes).
  free_first numeric(39, 0)[] NOT NULL DEFAULT '{}',
  free_last numeric(39, 0)[] NOT NULL DEFAULT '{}',
  CONSTRAINT held_block_pkey PRIMARY KEY (parent_id, cidr),
  CONSTRAINT held_block_free CHECK (cardinality(free_first) = cardinality(free_last))
);
CREATE INDEX held_block_expiry ON held_block (parent_id, held_until);

-- return_expired_holds (migration 0011) also returns expired held blocks: each one's free parts
-- merge into the neighbouring free ranges, and the parent's free blocks are marked for rebuilding
-- (the next child operation rebuilds them exactly, under the parent's lock). Called under the
-- subnet's lock before every pick, as before.
CREATE OR REPLACE FUNCTION return_expired_holds(p_subnet_id integer) RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  v_ordinal numeric;
  v_left numeric;
  v_right_last numeric;
  v_count integer := 0;
  v_block record;
  v_lo numeric;
  v_hi numeric;
BEGIN
  FOR v_ordinal IN DELETE FROM held_address h WHERE h.subnet_id = p_subnet_id AND h.held_until <= now() RETURNING h.ordinal LOOP
    v_count := v_count + 1;
    SELECT f.first_ordinal INTO v_left FROM free_range f WHERE f.subnet_id = p_subnet_id AND f.last_ordinal = v_ordinal - 1;
    IF NOT FOUND THEN v_left := NULL; END IF;
    SELECT f.last_ordinal INTO v_right_last FROM free_range f WHERE f.subnet_id = p_subnet_id AND f.first_ordinal = v_ordinal + 1;
    IF FOUND THEN
      DELETE FROM free_range f WHERE f.subnet_id = p_subnet_id AND f.first_ordinal = v_ordinal + 1;
    ELSE
      v_right_last := v_ordinal;
    END IF;
    IF v_left IS NOT NULL THEN
      UPDATE free_range f SET last_ordinal = v_right_last WHERE f.subnet_id = p_subnet_id AND f.first_ordinal = v_left;
    ELSE
      INSERT INTO free_range (subnet_id, first_ordinal, last_ordinal) VALUES (p_subnet_id, v_ordinal, v_right_last);
    END IF;
  END LOOP;
  FOR v_block IN DELETE FROM held_block b WHERE b.parent_id = p_subnet_id AND b.held_until <= now() RETURNING b.free_first, b.free_last LOOP
    v_count := v_count + 1;
    UPDATE subnet SET free_blocks_built = false WHERE id = p_subnet_id AND free_blocks_built;
    FOR i IN 1 .. coalesce(cardinality(v_block.free_first), 0) LOOP
      v_lo := v_block.free_first[i];
      v_hi := v_block.free_last[i];
      SELECT f.first_ordinal INTO v_left FROM free_range f WHERE f.subnet_id = p_subnet_id AND f.last_ordinal = v_lo - 1;
      IF NOT FOUND THEN v_left := NULL; END IF;
      SELECT f.last_ordinal INTO v_right_last FROM free_range f WHERE f.subnet_id = p_subnet_id AND f.first_ordinal = v_hi + 1;
      IF FOUND THEN
        DELETE FROM free_range f WHERE f.subnet_id = p_subnet_id AND f.first_ordinal = v_hi + 1;
      ELSE
        v_right_last := v_hi;
      END IF;
      IF v_left IS NOT NULL THEN
        UPDATE free_range f SET last_ordinal = v_right_last WHERE f.subnet_id = p_subnet_id AND f.first_ordinal = v_left;
      ELSE
        INSERT INTO free_range (subnet_id, first_ordinal, last_ordinal) VALUES (p_subnet_id, v_lo, v_right_last);
      END IF;
    END LOOP;
  END LOOP;
  RETURN v_count;
END
$$;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ipam_app') THEN
    GRANT SELECT, INSERT, UPDATE, DELETE ON held_block TO ipam_app;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ipam_reader') THEN
    GRANT SELECT ON held_block TO ipam_reader;
  END IF;
END
$$;

-- Migration 0007 pins every function's search_path; pin the one this migration replaces likewise.
DO $$
BEGIN
  EXECUTE format('ALTER FUNCTION return_expired_holds(integer) SET search_path = %I, pg_temp', current_schema());
END
$$;

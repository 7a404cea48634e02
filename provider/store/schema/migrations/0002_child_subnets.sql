-- Child subnets carved from a parent (issue 7). Forward only and without data loss: new columns have
-- defaults, a new table holds each parent's free blocks (built on first use), and the free ranges of
-- parents that already had children (imported under 0001) are cut so they no longer cover them.

ALTER TABLE subnet
  ADD COLUMN children_only boolean NOT NULL DEFAULT false,
  ADD COLUMN min_prefix_length smallint,
  ADD COLUMN max_prefix_length smallint,
  ADD COLUMN default_prefix_length smallint,
  ADD COLUMN idempotency_key text,
  -- false until the parent's free_block rows are built (lazily, under its lock, by the first child operation).
  ADD COLUMN free_blocks_built boolean NOT NULL DEFAULT false,
  ADD CONSTRAINT subnet_child_prefix_rules CHECK (
    (min_prefix_length IS NULL OR min_prefix_length BETWEEN masklen(cidr) + 1 AND CASE family(cidr) WHEN 4 THEN 32 ELSE 128 END)
    AND (max_prefix_length IS NULL OR max_prefix_length BETWEEN masklen(cidr) + 1 AND CASE family(cidr) WHEN 4 THEN 32 ELSE 128 END)
    AND (default_prefix_length IS NULL OR default_prefix_length BETWEEN masklen(cidr) + 1 AND CASE family(cidr) WHEN 4 THEN 32 ELSE 128 END)
    AND (min_prefix_length IS NULL OR max_prefix_length IS NULL OR min_prefix_length <= max_prefix_length)
    AND (default_prefix_length IS NULL OR min_prefix_length IS NULL OR min_prefix_length <= default_prefix_length)
    AND (default_prefix_length IS NULL OR max_prefix_length IS NULL OR default_prefix_length <= max_prefix_length)
  ),
  ADD CONSTRAINT subnet_idempotency_key_child CHECK (idempotency_key IS NULL OR parent_id IS NOT NULL),
  ADD CONSTRAINT subnet_idempotency_key UNIQUE (parent_id, idempotency_key),
  -- Locks are taken in ascending id order, and a child's operations lock its parent first: so a
  -- parent's id must be the lower one. NOT VALID: rows an 0001 import wrote are not re-checked.
  ADD CONSTRAINT subnet_parent_created_first CHECK (parent_id IS NULL OR parent_id < id) NOT VALID;

-- Children of one parent in address order (paging, and the subnet_parent index's job).
CREATE INDEX subnet_parent_cidr ON subnet (parent_id, cidr);
DROP INDEX subnet_parent;

-- A child lies strictly inside its parent, in the parent's namespace, whatever the code does.
CREATE FUNCTION subnet_child_inside_parent() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
BEGIN
  IF NEW.parent_id IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM subnet p WHERE p.id = NEW.parent_id AND p.namespace_id = NEW.namespace_id AND p.cidr >> NEW.cidr
  ) THEN
    RAISE EXCEPTION 'subnet % must lie strictly inside its parent % in the same namespace', NEW.cidr, NEW.parent_id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'subnet_child_inside_parent';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER subnet_child_inside_parent BEFORE INSERT OR UPDATE OF parent_id, cidr, namespace_id ON subnet
  FOR EACH ROW EXECUTE FUNCTION subnet_child_inside_parent();

-- Free space for children, buddy-allocator style: the maximal aligned blocks of the parent's CIDR
-- covered by no child, not the gateway and not reserved. Addresses allocated directly in the parent
-- are not cut out here (that would tax every address allocation); a candidate block is checked
-- against allocated_address instead. Taking a /p: the lowest (first fit) or smallest (best fit)
-- block of length <= p, split into buddies; returning one merges buddies back. Both are index probes.
CREATE TABLE free_block (
  subnet_id integer NOT NULL REFERENCES subnet (id) ON DELETE CASCADE,
  first_ordinal numeric(39, 0) NOT NULL,
  last_ordinal numeric(39, 0) NOT NULL,
  prefix_length smallint NOT NULL,
  CONSTRAINT free_block_pkey PRIMARY KEY (subnet_id, first_ordinal),
  CONSTRAINT free_block_shape CHECK (first_ordinal <= last_ordinal AND prefix_length BETWEEN 0 AND 128)
);
-- Best fit reads it in order; first fit probes it once per prefix length.
CREATE INDEX free_block_by_size ON free_block (subnet_id, prefix_length DESC, first_ordinal);

-- inet to integer (the inverse of ordinal_to_inet), exact for IPv6: the address bytes of the
-- type's binary form (family, bits, is_cidr, length, then the bytes), big-endian.
CREATE FUNCTION inet_to_ordinal(address inet) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT sum(get_byte(b, 3 + i)::numeric * 256::numeric ^ (get_byte(b, 3) - i))::numeric(39, 0)
  FROM (SELECT inet_send(address) AS b) AS raw, generate_series(1, get_byte(b, 3)) AS i
$$;

-- Under 0001 an imported child did not take its block out of its parent's free ranges: cut every
-- child block out of its parent's free ranges now. (Addresses allocated in a parent inside a child
-- before this migration stay allocated; nothing new is handed out there.)
CREATE TEMPORARY TABLE legacy_child_hole ON COMMIT DROP AS
SELECT f.subnet_id, f.first_ordinal, f.last_ordinal,
       greatest(c.lo, f.first_ordinal) AS lo, least(c.hi, f.last_ordinal) AS hi
FROM free_range f
JOIN (
  SELECT parent_id, inet_to_ordinal(network(cidr)) AS lo, inet_to_ordinal(broadcast(cidr)) AS hi
  FROM subnet WHERE parent_id IS NOT NULL
) c ON c.parent_id = f.subnet_id AND c.lo <= f.last_ordinal AND c.hi >= f.first_ordinal;

DELETE FROM free_range f USING legacy_child_hole h WHERE f.subnet_id = h.subnet_id AND f.first_ordinal = h.first_ordinal;

INSERT INTO free_range (subnet_id, first_ordinal, last_ordinal)
SELECT subnet_id, lo, hi FROM (
  SELECT subnet_id,
         coalesce(max(hi) OVER (PARTITION BY subnet_id, first_ordinal ORDER BY lo ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) + 1, first_ordinal) AS lo,
         lo - 1 AS hi
  FROM legacy_child_hole
  UNION ALL
  SELECT subnet_id, max(hi) + 1, last_ordinal FROM legacy_child_hole GROUP BY subnet_id, first_ordinal, last_ordinal
) AS piece
WHERE lo <= hi;

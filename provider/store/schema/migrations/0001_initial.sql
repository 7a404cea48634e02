-- Initial schema. The runner sets search_path to the configured schema, so names here are unqualified.

CREATE TABLE namespace (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT namespace_name_key UNIQUE (name)
);

-- Subnet ids are int4 because they are the second key of pg_advisory_xact_lock(int4, int4).
CREATE TABLE subnet (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  namespace_id integer NOT NULL REFERENCES namespace (id),
  parent_id integer REFERENCES subnet (id),
  cidr cidr NOT NULL,
  gateway inet,
  pools jsonb NOT NULL,
  pools_explicit boolean NOT NULL,
  reserved jsonb NOT NULL DEFAULT '[]',
  description text NOT NULL DEFAULT '',
  tags jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT subnet_gateway_inside CHECK (gateway IS NULL OR gateway <<= cidr),
  -- Siblings (same namespace, same parent) never overlap. int4range(x, x, '[]') && int4range(y, y, '[]')
  -- is x = y, which lets plain GiST express equality without the btree_gist extension.
  CONSTRAINT subnet_no_overlap EXCLUDE USING gist (
    int4range(namespace_id, namespace_id, '[]') WITH &&,
    int4range(coalesce(parent_id, 0), coalesce(parent_id, 0), '[]') WITH &&,
    cidr inet_ops WITH &&
  )
);
CREATE INDEX subnet_parent ON subnet (parent_id);

CREATE TABLE allocation (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  subnet_id integer NOT NULL REFERENCES subnet (id),
  owner text NOT NULL,
  idempotency_key text,
  strategy text NOT NULL,
  requested_address inet,
  description text NOT NULL DEFAULT '',
  tags jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT allocation_strategy CHECK (strategy IN ('specific', 'sequential', 'random')),
  CONSTRAINT allocation_idempotency_key UNIQUE (subnet_id, idempotency_key)
);
CREATE INDEX allocation_subnet ON allocation (subnet_id, id);
CREATE INDEX allocation_owner ON allocation (owner);

-- The last line of defence: one address, one holder, whatever the code does.
CREATE TABLE allocated_address (
  subnet_id integer NOT NULL REFERENCES subnet (id),
  address inet NOT NULL,
  ordinal numeric(39, 0) NOT NULL,
  allocation_id bigint NOT NULL REFERENCES allocation (id) ON DELETE CASCADE,
  CONSTRAINT allocated_address_pkey PRIMARY KEY (subnet_id, address),
  CONSTRAINT allocated_address_ordinal_key UNIQUE (subnet_id, ordinal)
);
CREATE INDEX allocated_address_allocation ON allocated_address (allocation_id, ordinal);

-- Free-space index: maximal runs of allocatable, unallocated addresses inside the pools, as integer
-- ranges. Next-free and random picks are index probes here, so their cost does not grow with the
-- number of addresses allocated.
CREATE TABLE free_range (
  subnet_id integer NOT NULL REFERENCES subnet (id) ON DELETE CASCADE,
  first_ordinal numeric(39, 0) NOT NULL,
  last_ordinal numeric(39, 0) NOT NULL,
  CONSTRAINT free_range_pkey PRIMARY KEY (subnet_id, first_ordinal),
  CONSTRAINT free_range_ordered CHECK (first_ordinal <= last_ordinal)
);
CREATE INDEX free_range_last ON free_range (subnet_id, last_ordinal);

-- History survives the subnet and allocation it describes, so no foreign keys here.
CREATE TABLE audit_event (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  action text NOT NULL,
  subnet_id integer,
  cidr cidr,
  allocation_id bigint,
  owner text,
  addresses inet[] NOT NULL DEFAULT '{}',
  detail jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_event_subnet ON audit_event (subnet_id, id);
CREATE INDEX audit_event_owner ON audit_event (owner, id);
CREATE INDEX audit_event_allocation ON audit_event (allocation_id, id);

-- Integer to inet, so a single statement can pick an ordinal and store its address.
CREATE FUNCTION ordinal_to_inet(ordinal numeric, version integer) RETURNS inet
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT CASE
    WHEN version = 4 THEN '0.0.0.0'::inet + ordinal::bigint
    ELSE (
      SELECT string_agg(lpad(to_hex(mod(div(ordinal, 65536::numeric ^ (7 - g)), 65536)::integer), 4, '0'), ':' ORDER BY g)
      FROM generate_series(0, 7) AS g
    )::inet
  END
$$;

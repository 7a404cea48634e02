-- ordinal_to_inet as PL/pgSQL, same signature and results. As a SQL function with a sub-select it
-- is never inlined, and before PostgreSQL 18 a non-inlined SQL function is parsed and planned again
-- in every statement that calls it: in allocate_next, once per allocation, inside the subnet's lock.
-- PL/pgSQL keeps its plans for the session. Measured with pgbench on PostgreSQL 15 (16 clients,
-- 16 subnets, the lock plus the free-range carve and the address insert): 4,750-5,250 calls/s with
-- the SQL version, 6,000-7,200 with this one, 6,800-7,700 with the IPv4 arithmetic written inline.
CREATE OR REPLACE FUNCTION ordinal_to_inet(ordinal numeric, version integer) RETURNS inet
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
  groups text[] := '{}';
  rest numeric := ordinal;
BEGIN
  IF version = 4 THEN
    RETURN '0.0.0.0'::inet + ordinal::bigint;
  END IF;
  -- Eight 16-bit groups, lowest first, each prepended: hex text PostgreSQL parses as IPv6.
  FOR g IN 1..8 LOOP
    groups := to_hex(mod(rest, 65536)::integer) || groups;
    rest := div(rest, 65536);
  END LOOP;
  RETURN array_to_string(groups, ':')::inet;
END
$$;

-- Issue 25: a big bulk allocation is written in chunks, each its own transaction under the
-- subnet's lock, so no other allocation in the subnet waits seconds behind it. Until its last chunk
-- commits, the allocation is pending: this row says how many addresses it was asked for and until
-- when its writer is known to be alive (lease_until, the database's clock, renewed by every chunk).
-- A retry with the same idempotency key completes a pending allocation; one whose lease ended (its
-- writer was killed, or gave up after a failure) is released, a chunk at a time, by the subnet's
-- next locked allocation. Forward only: no existing row changes; older releases ignore the table.
-- (Numbered after 0012, which another change of the same release may take.)
CREATE TABLE pending_allocation (
  allocation_id bigint PRIMARY KEY REFERENCES allocation (id) ON DELETE CASCADE,
  subnet_id integer NOT NULL REFERENCES subnet (id) ON DELETE CASCADE,
  target_count integer NOT NULL CONSTRAINT pending_allocation_target CHECK (target_count > 0),
  lease_until timestamptz NOT NULL
);
CREATE INDEX pending_allocation_lease ON pending_allocation (subnet_id, lease_until);

-- An existing application role can write the new table at once (as 0014 does for held_block), so an
-- upgraded least-privilege installation needs no second run of roles/ipam_app.sql for bulks.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ipam_app') THEN
    GRANT SELECT, INSERT, UPDATE, DELETE ON pending_allocation TO ipam_app;
  END IF;
END
$$;

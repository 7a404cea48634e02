-- Claims (issue 3): a request that replays an earlier one by idempotency key, or adopts an
-- allocation, records its token as the latest claimant; from then on a release, delete or read
-- that carries an older token is told it was superseded and changes nothing. A forced replacement
-- of a Pulumi resource (create the new one, then delete the old one, same key) therefore never
-- frees what the new resource holds. NULL: no second claimant so far, any holder may act.
ALTER TABLE allocation ADD COLUMN claim text;
ALTER TABLE subnet ADD COLUMN claim text;

-- Top-level subnets take idempotency keys too (a retried create returns the subnet the first one
-- made instead of failing on its own overlap); keys of top-level subnets are unique per namespace.
ALTER TABLE subnet DROP CONSTRAINT subnet_idempotency_key_child;
CREATE UNIQUE INDEX subnet_idempotency_key_top ON subnet (namespace_id, idempotency_key) WHERE parent_id IS NULL;

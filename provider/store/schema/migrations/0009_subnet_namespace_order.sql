-- Subnets in a namespace by address (issue 14 part 3): listSubnets pages and the streamed export
-- read them in (namespace, CIDR, id) order a page at a time. Without this index every page sorts
-- the whole namespace (the exclusion constraint's GiST index has no order), so page n cost O(n).
CREATE INDEX subnet_namespace_cidr ON subnet (namespace_id, cidr, id);

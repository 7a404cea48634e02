import { parseCidr } from "../../core/address.js";
import type { ChildRules } from "../../core/prefixPolicy.js";
import { buildLayout, type SubnetLayout } from "../../core/subnetLayout.js";
import { parseInput, subnetIdSchema } from "../../core/schemas.js";
import type { Subnet } from "../../core/types.js";
import type { SubnetRow } from "./rowShapes.js";

/** The layout stored with a subnet, re-derived from its canonical row. */
export function layoutOf(row: Pick<SubnetRow, "cidr" | "gateway" | "pools" | "pools_explicit" | "reserved">): SubnetLayout {
  return buildLayout(parseCidr(row.cidr, "cidr"), {
    allocationPools: row.pools_explicit ? row.pools : null,
    gateway: row.gateway,
    reserved: row.reserved,
  });
}

/** The rules a subnet sets for its children. */
export function rulesOf(row: SubnetRow): ChildRules {
  return { minPrefixLength: row.min_prefix_length, maxPrefixLength: row.max_prefix_length, defaultPrefixLength: row.default_prefix_length };
}

export function subnetFromRow(row: SubnetRow, layout: SubnetLayout = layoutOf(row)): Subnet {
  return {
    id: String(row.id),
    namespace: row.namespace,
    parentId: row.parent_id === null ? null : String(row.parent_id),
    cidr: layout.cidr.text,
    ipVersion: layout.cidr.version,
    prefixLength: layout.cidr.prefixLength,
    gateway: layout.gateway?.text ?? null,
    allocationPools: layout.pools.map((pool) => ({ start: pool.start, end: pool.end })),
    allocationPoolsExplicit: row.pools_explicit,
    reserved: layout.reserved.map((range) => range.text),
    description: row.description,
    tags: row.tags,
    size: layout.cidr.size.toString(),
    childrenOnly: row.children_only,
    minPrefixLength: row.min_prefix_length,
    maxPrefixLength: row.max_prefix_length,
    defaultPrefixLength: row.default_prefix_length,
    releaseHoldSeconds: row.release_hold_seconds,
    idempotencyKey: row.idempotency_key,
    claim: row.claim,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/**
 * A subnet id as the database keys it.
 * @throws InvalidInputError naming `subnetId`
 */
export function subnetKey(subnetId: unknown): number {
  return Number(parseInput(subnetIdSchema, subnetId, "subnetId"));
}

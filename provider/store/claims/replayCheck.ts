import { IdempotencyMismatchError } from "../../core/errors.js";
import type { ChildRules } from "../../core/prefixPolicy.js";
import type { SubnetLayout } from "../../core/subnetLayout.js";
import type { Allocation, Subnet } from "../../core/types.js";

/**
 * Replaying an idempotency key returns what the first request made only when the request is the
 * same: every field but the claim, description and tags (those the replay may update) must match.
 * Otherwise IDEMPOTENCY_MISMATCH naming each field that differs (issue 13 item 7: a replay with
 * another owner, count or gateway used to return the first result as if it were asked for).
 */
function refuseDifferences(key: string, what: string, stored: Record<string, unknown>, asked: Record<string, unknown>): void {
  const fields = Object.keys(asked).filter((field) => JSON.stringify(stored[field]) !== JSON.stringify(asked[field]));
  if (fields.length === 0) return;
  const show = (record: Record<string, unknown>) => fields.map((field) => `${field} ${JSON.stringify(record[field])}`).join(", ");
  throw new IdempotencyMismatchError(key, `it ${what} with ${show(stored)}, but this request asks for ${show(asked)}`, fields);
}

export interface AllocationAsked {
  readonly owner: string;
  readonly count: number;
  readonly strategy: string;
  /** Canonical text of a specific address, else null. */
  readonly address: string | null;
}

/**
 * @param targetCount what a bulk still being written in chunks was asked for (it holds fewer addresses so far)
 * @throws IdempotencyMismatchError naming owner, count, strategy or address
 */
export function refuseAllocationMismatch(key: string, earlier: Allocation, asked: AllocationAsked, targetCount?: number): void {
  const stored = { owner: earlier.owner, count: targetCount ?? earlier.addresses.length, strategy: earlier.strategy, address: earlier.strategy === "specific" ? (earlier.addresses[0] ?? null) : null };
  refuseDifferences(key, `made allocation ${earlier.id}`, stored, { ...asked });
}

/** @throws IdempotencyMismatchError naming cidr, gateway, allocationPools, reserved, childrenOnly or a child rule */
export function refuseSubnetMismatch(key: string, earlier: Subnet, layout: SubnetLayout, childrenOnly: boolean, rules: ChildRules): void {
  const asked = {
    cidr: layout.cidr.text,
    gateway: layout.gateway?.text ?? null,
    allocationPools: layout.pools.map((pool) => ({ start: pool.start, end: pool.end })),
    reserved: layout.reserved.map((range) => range.text),
    childrenOnly,
    minPrefixLength: rules.minPrefixLength,
    maxPrefixLength: rules.maxPrefixLength,
    defaultPrefixLength: rules.defaultPrefixLength,
  };
  // Default pools follow from the gateway and reserved ranges: compared only when either side set them.
  if (!layout.poolsExplicit && !earlier.allocationPoolsExplicit) delete (asked as Partial<typeof asked>).allocationPools;
  const stored = Object.fromEntries(Object.keys(asked).map((field) => [field, (earlier as unknown as Record<string, unknown>)[field]]));
  refuseDifferences(key, `created subnet ${earlier.id}`, stored, asked);
}

import { formatAddress } from "./address.js";
import { rangeContains, subtractRanges, type ValueRange } from "./range.js";
import { isAllocatable, type SubnetLayout } from "./subnetLayout.js";

/** An allocation as the forecasts see it: who holds which address values. */
export interface HeldAddresses {
  readonly id: string;
  readonly owner: string;
  readonly values: readonly bigint[];
}

export interface AddressHolder {
  readonly address: string;
  readonly owner: string;
}

export interface SubnetEditEffects {
  /** Allocated addresses the new pools no longer cover: they stay allocated, but are never handed out again once released. */
  readonly outsidePools: readonly AddressHolder[];
  /** Allocated addresses the new gateway or reserved ranges would cover: the store refuses that edit (ConflictError). */
  readonly blocked: readonly (AddressHolder & { readonly field: "gateway" | "reserved" })[];
  /** Addresses in hold-down the new layout makes unallocatable: the store drops their holds (holdDown.ts `dropHoldsOutside`). */
  readonly holdsDropped: readonly string[];
  /** The free space after the edit: the new pools minus gateway, reserved, every allocated address and every hold kept. */
  readonly free: readonly ValueRange[];
}

/**
 * What an in-place edit of a subnet's pools, gateway or reserved ranges does to the addresses in it,
 * by the rules of the store's `updateSubnet` (refuseBlockedAddresses, addressesOutsidePools,
 * dropHoldsOutside): `holds` are the values in hold-down (hold-down of released addresses).
 */
export function subnetEditEffects(layout: SubnetLayout, allocations: readonly HeldAddresses[], holds: readonly bigint[] = []): SubnetEditEffects {
  const version = layout.cidr.version;
  const outsidePools: AddressHolder[] = [];
  const blocked: (AddressHolder & { field: "gateway" | "reserved" })[] = [];
  const held: ValueRange[] = [];
  for (const allocation of allocations) {
    for (const value of allocation.values) {
      held.push({ first: value, last: value });
      const address = formatAddress(version, value);
      if (layout.gateway !== null && layout.gateway.value === value) blocked.push({ address, owner: allocation.owner, field: "gateway" });
      else if (layout.reserved.some((range) => rangeContains(range, value))) blocked.push({ address, owner: allocation.owner, field: "reserved" });
      if (!layout.pools.some((pool) => rangeContains(pool, value))) outsidePools.push({ address, owner: allocation.owner });
    }
  }
  const holdsDropped: string[] = [];
  for (const value of holds) {
    if (isAllocatable(layout, value)) held.push({ first: value, last: value });
    else holdsDropped.push(formatAddress(version, value));
  }
  return { outsidePools, blocked, holdsDropped, free: subtractRanges(layout.available, held) };
}

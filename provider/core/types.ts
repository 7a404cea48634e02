import type { AllocationStrategy } from "./schemas.js";

/** A subnet as returned to callers: plain JSON, sizes as decimal strings (IPv6 exceeds 2^53). */
export interface Subnet {
  readonly id: string;
  readonly namespace: string;
  readonly parentId: string | null;
  readonly cidr: string;
  readonly ipVersion: 4 | 6;
  readonly prefixLength: number;
  readonly gateway: string | null;
  readonly allocationPools: readonly { readonly start: string; readonly end: string }[];
  /** True when the pools were given explicitly; false when they are the default usable range. */
  readonly allocationPoolsExplicit: boolean;
  readonly reserved: readonly string[];
  readonly description: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly size: string;
  /** Hands out child subnets only: allocating an address directly in it is refused. */
  readonly childrenOnly: boolean;
  /** Shortest prefix a child may have (its largest size); null: any inside the subnet. */
  readonly minPrefixLength: number | null;
  /** Longest prefix a child may have (its smallest size); null: down to /32 or /128. */
  readonly maxPrefixLength: number | null;
  /** Prefix length of a child requested without one; null: children must say. */
  readonly defaultPrefixLength: number | null;
  /** Hold-down: seconds a released address is kept from other holders (0: handed out again at once). */
  readonly releaseHoldSeconds: number;
  /** The key it was created with (repeating the request returns this subnet); null for none. */
  readonly idempotencyKey: string | null;
  /** Token of its latest claimant (see README "Claims"); null while no second claimant appeared. */
  readonly claim: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export type StoredStrategy = AllocationStrategy | "specific";

export interface Allocation {
  readonly id: string;
  readonly subnetId: string;
  readonly owner: string;
  readonly idempotencyKey: string | null;
  /** Token of its latest claimant (see README "Claims"); null while no second claimant appeared. */
  readonly claim: string | null;
  readonly strategy: StoredStrategy;
  /** Ascending by address. */
  readonly addresses: readonly string[];
  readonly description: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface AllocationResult {
  readonly allocation: Allocation;
  /** What outputs show beside an allocation, returned by the same statement (no second read). */
  readonly subnet: { readonly prefixLength: number; readonly gateway: string | null };
  /** False when an earlier request with the same idempotency key already made this allocation. */
  readonly created: boolean;
}

export interface SubnetUpdateResult {
  readonly subnet: Subnet;
  /** Allocated addresses that the new pools no longer cover: still valid, never handed out again once released. */
  readonly allocationsOutsidePools: readonly string[];
}

export interface SubnetUsage {
  readonly subnetId: string;
  readonly cidr: string;
  /** Every address in the CIDR. */
  readonly total: string;
  /** Addresses the allocator may hand out: pools minus gateway and reserved. */
  readonly poolSize: string;
  readonly allocated: string;
  /** Addresses still allocatable directly: the pools minus allocations and minus child blocks (0 when childrenOnly). */
  readonly free: string;
  /** Allocated addresses outside the current pools (left behind by a pool change, or specific requests). */
  readonly outsidePool: string;
  /** Released addresses still held back (hold-down): neither allocated nor free until their hold expires. */
  readonly held: string;
  /** Direct children (subnets carved from this one). */
  readonly childPrefixes: number;
  /** Addresses covered by the direct children; `allocated` and `free` never include them. */
  readonly childAddresses: string;
  /**
   * Addresses covered by no child, no direct allocation, not the gateway and not reserved: room
   * for more children (a given size may still not fit when the room is fragmented).
   */
  readonly childSpaceFree: string;
}

/** One subnet of a tree, depth first in address order, with its usage. */
export interface SubnetTreeEntry {
  readonly subnet: Subnet;
  /** 0 for the subnet asked for, 1 for its children, and so on. */
  readonly depth: number;
  readonly usage: SubnetUsage;
}

export interface ReleaseResult {
  readonly released: boolean;
  /** True when a newer claimant holds the allocation: the request carried an older claim and changed nothing. */
  readonly superseded?: boolean;
  readonly addresses: readonly string[];
}

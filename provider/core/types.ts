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
  readonly createdAt: string;
  readonly updatedAt: string;
}

export type StoredStrategy = AllocationStrategy | "specific";

export interface Allocation {
  readonly id: string;
  readonly subnetId: string;
  readonly owner: string;
  readonly idempotencyKey: string | null;
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
  readonly free: string;
  /** Allocated addresses outside the current pools (left behind by a pool change, or specific requests). */
  readonly outsidePool: string;
}

export interface ReleaseResult {
  readonly released: boolean;
  readonly addresses: readonly string[];
}

import type { HeldAddress, HeldBlock } from "../space/holdDown.js";
import { sql, type FragmentSqlToken } from "slonik";
import { z } from "zod";
import type { SubnetLayout } from "../../core/subnetLayout.js";
import type { Subnet, SubnetUsage } from "../../core/types.js";
import { type BoundConnection } from "../database/storeDatabase.js";

export interface SubnetUsageReport {
  readonly subnet: Subnet;
  readonly usage: SubnetUsage;
  /** Largest holder first. */
  readonly owners: readonly OwnerUsage[];
  /** Allocated addresses outside the pools, lowest first (at most LIMITS.pageSize; `usage.outsidePool` has the count). */
  readonly outsidePool: readonly OutsidePoolAddress[];
  /** Released addresses held back (hold-down), soonest to expire first (at most LIMITS.pageSize; `usage.held` has the count). */
  readonly held?: readonly HeldAddress[];
  /** Child prefixes released and held back (hold-down of a parent with `releaseHoldSeconds`), soonest to expire first. */
  readonly heldBlocks?: readonly HeldBlock[];
}

export interface OwnerUsage {
  readonly owner: string;
  readonly allocations: number;
  /** Decimal string: an owner may hold more than 2^53 IPv6 addresses in principle. */
  readonly addresses: string;
}

export interface OutsidePoolAddress {
  readonly address: string;
  readonly owner: string;
  readonly allocationId: string;
}

const ownerUsageRow = z.object({ owner: z.string(), allocations: z.number(), addresses: z.string() });
const outsideRow = z.object({ address: z.string(), owner: z.string(), allocation_id: z.string() });

/** Who holds how much of a subnet, largest holder first. */
export async function ownerUsageRows(db: BoundConnection, subnetId: number): Promise<OwnerUsage[]> {
  const rows = await db.any(sql.type(ownerUsageRow)`
    SELECT a.owner, count(DISTINCT a.id)::int AS allocations, count(*)::text AS addresses
    FROM ${db.t.allocatedAddress} x JOIN ${db.t.allocation} a ON a.id = x.allocation_id
    WHERE x.subnet_id = ${subnetId}
    GROUP BY a.owner
    ORDER BY count(*) DESC, a.owner
  `);
  return rows.map((row) => ({ owner: row.owner, allocations: row.allocations, addresses: row.addresses }));
}

/** `true` for an allocated address (alias `x`) that lies in none of the layout's pools. */
export function outsidePoolsCondition(layout: SubnetLayout): FragmentSqlToken {
  return sql.fragment`NOT EXISTS (
    SELECT 1 FROM unnest(${sql.array(layout.pools.map((p) => p.first.toString()), "numeric")},
                         ${sql.array(layout.pools.map((p) => p.last.toString()), "numeric")}) AS p(lo, hi)
    WHERE x.ordinal BETWEEN p.lo AND p.hi)`;
}

/** Allocated addresses outside the current pools, with who holds them, lowest first. */
export async function outsidePoolAddresses(
  db: BoundConnection,
  subnetId: number,
  layout: SubnetLayout,
  limit: number,
): Promise<OutsidePoolAddress[]> {
  const rows = await db.any(sql.type(outsideRow)`
    SELECT host(x.address) AS address, a.owner, a.id::text AS allocation_id
    FROM ${db.t.allocatedAddress} x JOIN ${db.t.allocation} a ON a.id = x.allocation_id
    WHERE x.subnet_id = ${subnetId} AND ${outsidePoolsCondition(layout)}
    ORDER BY x.ordinal
    LIMIT ${limit}
  `);
  return rows.map((row) => ({ address: row.address, owner: row.owner, allocationId: row.allocation_id }));
}

import { sql } from "slonik";
import { formatAddress, parseAddress, parseCidr } from "../../core/address.js";
import type { Allocation, AllocationResult } from "../../core/types.js";
import type { ValueRange } from "../../core/range.js";
import { allocationRow, ordinalRow, ordinalTextRow, type AllocationRow, labelRow, countRow, subnetIdRow } from "./rowShapes.js";
import type { Tables } from "../database/tables.js";
import { type BoundConnection } from "../database/storeDatabase.js";

function selectAllocation(t: Tables) {
  return sql.fragment`
    SELECT a.id::text AS id, a.subnet_id, a.owner, a.idempotency_key, a.claim, a.strategy, host(a.requested_address) AS requested_address,
           a.description, a.tags, a.created_at, a.updated_at, family(s.cidr) AS ip_version, masklen(s.cidr) AS prefix_length, host(s.gateway) AS gateway,
           ARRAY(SELECT ordinal::text FROM ${t.allocatedAddress} x WHERE x.allocation_id = a.id ORDER BY x.ordinal) AS ordinals
    FROM ${t.allocation} a JOIN ${t.subnet} s ON s.id = a.subnet_id
  `;
}

export function allocationFromRow(row: AllocationRow): Allocation {
  return {
    id: row.id,
    subnetId: String(row.subnet_id),
    owner: row.owner,
    idempotencyKey: row.idempotency_key,
    claim: row.claim,
    strategy: row.strategy,
    addresses: row.ordinals.map((ordinal) => formatAddress(row.ip_version, BigInt(ordinal))),
    description: row.description,
    tags: row.tags,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** What `allocate` returns: the allocation and, from the same row, its subnet's prefix length and gateway. */
export function allocationResultFromRow(row: AllocationRow, created: boolean): AllocationResult {
  const gateway = row.gateway === null ? null : parseAddress(row.gateway, "gateway").text;
  return { allocation: allocationFromRow(row), created, subnet: { prefixLength: row.prefix_length, gateway } };
}

export async function getAllocationRow(db: BoundConnection, id: string): Promise<AllocationRow | null> {
  return db.maybeOne(sql.type(allocationRow)`${selectAllocation(db.t)} WHERE a.id = ${id}::bigint`);
}

export async function getAllocationByKey(db: BoundConnection, subnetId: number, key: string): Promise<AllocationRow | null> {
  return db.maybeOne(sql.type(allocationRow)`${selectAllocation(db.t)} WHERE a.subnet_id = ${subnetId} AND a.idempotency_key = ${key}`);
}

export async function listAllocationRows(
  db: BoundConnection,
  filter: { subnetId?: number; owner?: string; completeOnly?: boolean },
  limit: number,
  after: string | undefined,
): Promise<readonly AllocationRow[]> {
  const conditions = [sql.fragment`a.id > ${after ?? "0"}::bigint`];
  if (filter.subnetId !== undefined) conditions.push(sql.fragment`a.subnet_id = ${filter.subnetId}`);
  if (filter.owner !== undefined) conditions.push(sql.fragment`a.owner = ${filter.owner}`);
  if (filter.completeOnly === true) conditions.push(sql.fragment`NOT EXISTS (SELECT 1 FROM ${db.t.pendingAllocation} p WHERE p.allocation_id = a.id)`);
  return db.any(sql.type(allocationRow)`${selectAllocation(db.t)} WHERE ${sql.join(conditions, sql.fragment` AND `)} ORDER BY a.id LIMIT ${limit}`);
}

export async function allocationHolding(db: BoundConnection, subnetId: number, address: string): Promise<AllocationRow | null> {
  return db.maybeOne(sql.type(allocationRow)`
    ${selectAllocation(db.t)}
    WHERE a.id = (SELECT allocation_id FROM ${db.t.allocatedAddress} WHERE subnet_id = ${subnetId} AND address = ${address}::inet)
  `);
}

export async function allocationSubnet(db: BoundConnection, id: string): Promise<number | null> {
  return db.maybeOneFirst(sql.type(subnetIdRow)`SELECT subnet_id FROM ${db.t.allocation} WHERE id = ${id}::bigint`);
}

/** Release the `count` highest addresses of an allocation. */
export async function releaseHighest(db: BoundConnection, subnetId: number, id: string, count: number): Promise<{ ordinals: bigint[]; addresses: string[] }> {
  const freed = await db.any(sql.type(ordinalRow)`
    DELETE FROM ${db.t.allocatedAddress}
    WHERE subnet_id = ${subnetId} AND ordinal IN (
      SELECT ordinal FROM ${db.t.allocatedAddress} WHERE allocation_id = ${id}::bigint ORDER BY ordinal DESC LIMIT ${count}
    )
    RETURNING ordinal::text AS ordinal, host(address) AS address
  `);
  await db.query(sql.unsafe`UPDATE ${db.t.allocation} SET updated_at = now() WHERE id = ${id}::bigint`);
  return { ordinals: freed.map((row) => BigInt(row.ordinal)), addresses: freed.map((row) => row.address) };
}

export async function countAllocations(db: BoundConnection, subnetId: number): Promise<{ count: number; examples: string[] }> {
  const count = await db.oneFirst(sql.type(countRow)`
    SELECT count(*)::int AS count FROM ${db.t.allocation} WHERE subnet_id = ${subnetId}
  `);
  if (count === 0) return { count, examples: [] };
  const examples = await db.anyFirst(sql.type(labelRow)`
    SELECT coalesce((SELECT host(address) FROM ${db.t.allocatedAddress} x WHERE x.allocation_id = a.id ORDER BY ordinal LIMIT 1), '?')
           || ' (' || a.owner || ')' AS label
    FROM ${db.t.allocation} a WHERE a.subnet_id = ${subnetId} ORDER BY a.id LIMIT 5
  `);
  return { count, examples: [...examples] };
}

/** Addresses of a subnet (`row.cidr`) in address order, from their ordinals. */
export function sortedAddresses(row: { cidr: string }, ordinals: readonly bigint[]): string[] {
  const version = parseCidr(row.cidr, "cidr").version;
  return [...ordinals].sort((a, b) => (a < b ? -1 : 1)).map((ordinal) => formatAddress(version, ordinal));
}

/**
 * The lowest `limit` ordinals allocated directly in subnet `subnetId` inside `ranges`, ascending.
 * Each range is one probe of the (subnet_id, ordinal) index that stops at `limit` rows, so the
 * cost follows the number of ranges, not how full the subnet is (a join of the subnet's addresses
 * against the ranges read every address whenever fewer than `limit` matched: the usual case).
 */
export async function allocatedIn(db: BoundConnection, subnetId: number, ranges: readonly ValueRange[], limit: number): Promise<bigint[]> {
  if (ranges.length === 0) return [];
  const ordinals = await db.anyFirst(sql.type(ordinalTextRow)`
    SELECT hit.ordinal::text AS ordinal
    FROM unnest(${sql.array(ranges.map((r) => r.first.toString()), "numeric")},
                ${sql.array(ranges.map((r) => r.last.toString()), "numeric")}) AS r(lo, hi)
    CROSS JOIN LATERAL (
      SELECT a.ordinal FROM ${db.t.allocatedAddress} a
      WHERE a.subnet_id = ${subnetId} AND a.ordinal BETWEEN r.lo AND r.hi
      ORDER BY a.ordinal LIMIT ${limit}
    ) AS hit
    ORDER BY hit.ordinal LIMIT ${limit}
  `);
  return ordinals.map((ordinal) => BigInt(ordinal));
}

import { sql } from "slonik";
import { z } from "zod";
import type { IpAddress, Cidr } from "../../core/address.js";
import type { ValueRange } from "../../core/range.js";
import { subnetRow, type SubnetRow, labelRow, countRow, cidrTextRow, parentIdRow } from "../rows/rowShapes.js";
import { selectSubnet } from "../rows/subnetQueries.js";
import { type BoundConnection } from "../database/storeDatabase.js";

const childRow = z.object({ id: z.number(), cidr: z.string() });

/** The parent of a subnet (null for a top-level or missing one). A subnet's parent never changes. */
export async function parentOf(db: BoundConnection, id: number): Promise<number | null> {
  return db.maybeOneFirst(sql.type(parentIdRow)`SELECT parent_id FROM ${db.t.subnet} WHERE id = ${id} AND parent_id IS NOT NULL`);
}

/** Every child block of a parent, as CIDR text (to rebuild its free blocks). */
export async function childCidrs(db: BoundConnection, parentId: number): Promise<readonly string[]> {
  return db.anyFirst(sql.type(cidrTextRow)`SELECT s.cidr::text AS cidr FROM ${db.t.subnet} s WHERE s.parent_id = ${parentId} ORDER BY s.cidr`);
}

/** How many children a subnet has, and the first few as `id (cidr)`. */
export async function countChildren(db: BoundConnection, parentId: number): Promise<{ count: number; examples: string[] }> {
  const count = await db.oneFirst(sql.type(countRow)`
    SELECT count(*)::int AS count FROM ${db.t.subnet} WHERE parent_id = ${parentId}
  `);
  if (count === 0) return { count, examples: [] };
  const rows = await db.any(sql.type(childRow)`SELECT s.id, s.cidr::text AS cidr FROM ${db.t.subnet} s WHERE s.parent_id = ${parentId} ORDER BY s.cidr LIMIT 5`);
  return { count, examples: rows.map((row) => `${row.id} (${row.cidr})`) };
}

/**
 * The child of `parentId` holding `address`, or null. Siblings never overlap, so in cidr order the
 * last child not after the address is the only one that can hold it: one index probe.
 */
export async function childHolding(db: BoundConnection, parentId: number, address: IpAddress): Promise<{ id: number; cidr: string } | null> {
  const host = `${address.text}/${address.version === 4 ? 32 : 128}`;
  return db.maybeOne(sql.type(childRow)`
    SELECT id, cidr::text AS cidr FROM (
      SELECT id, cidr FROM ${db.t.subnet} WHERE parent_id = ${parentId} AND cidr <= ${host}::cidr ORDER BY cidr DESC LIMIT 1
    ) AS below
    WHERE cidr >>= ${host}::cidr
  `);
}

/** A sibling overlapping `cidr` under `parentId`, as `id (cidr)` (to name it in an error). */
export async function overlappingChild(db: BoundConnection, parentId: number, namespace: string, cidr: Cidr): Promise<string | null> {
  // The conditions mirror the subnet_no_overlap exclusion index, so it answers the probe.
  return db.maybeOneFirst(sql.type(labelRow)`
    SELECT s.id || ' (' || s.cidr::text || ')' AS label
    FROM ${db.t.subnet} s JOIN ${db.t.namespace} n ON n.id = s.namespace_id AND n.name = ${namespace}
    WHERE int4range(s.namespace_id, s.namespace_id, '[]') && int4range(n.id, n.id, '[]')
      AND int4range(coalesce(s.parent_id, 0), coalesce(s.parent_id, 0), '[]') && int4range(${parentId}, ${parentId}, '[]')
      AND s.cidr && ${cidr.text}::cidr
    ORDER BY s.cidr LIMIT 1
  `);
}

/** Children of `parentId` overlapping any of `ranges` (ordinals), as `id (cidr)`: at most 20. */
export async function childrenOverlapping(db: BoundConnection, parentId: number, ranges: readonly ValueRange[]): Promise<string[]> {
  if (ranges.length === 0) return [];
  const rows = await db.any(sql.type(childRow)`
    SELECT c.id, c.cidr::text AS cidr FROM (
      SELECT DISTINCT s.id, s.cidr
      FROM ${db.t.subnet} s
      JOIN unnest(${sql.array(ranges.map((r) => r.first.toString()), "numeric")}, ${sql.array(ranges.map((r) => r.last.toString()), "numeric")}) AS r(lo, hi)
        ON ${db.t.inetToOrdinal}(network(s.cidr)) <= r.hi AND ${db.t.inetToOrdinal}(broadcast(s.cidr)) >= r.lo
      WHERE s.parent_id = ${parentId}
    ) AS c
    ORDER BY c.cidr LIMIT 20
  `);
  return rows.map((row) => `${row.id} (${row.cidr})`);
}

/** The child a parent created for an idempotency key, or null. */
export async function childByKey(db: BoundConnection, parentId: number, key: string): Promise<SubnetRow | null> {
  return db.maybeOne(sql.type(subnetRow)`${selectSubnet(db.t)} WHERE s.parent_id = ${parentId} AND s.idempotency_key = ${key}`);
}

/** One page of a parent's children in address order, after the CIDR `after`. */
export async function listChildRows(db: BoundConnection, parentId: number, limit: number, after: Cidr | null): Promise<readonly SubnetRow[]> {
  const from = after === null ? sql.fragment`TRUE` : sql.fragment`s.cidr > ${after.text}::cidr`;
  return db.any(sql.type(subnetRow)`${selectSubnet(db.t)} WHERE s.parent_id = ${parentId} AND ${from} ORDER BY s.cidr LIMIT ${limit}`);
}


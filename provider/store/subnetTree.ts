import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import type { SubnetTreeEntry } from "../core/types.js";
import { subnetRow, type SubnetRow } from "./rows.js";
import { subnetFromRow } from "./subnetRecords.js";
import { selectSubnet } from "./subnetQueries.js";
import { readSubnetUsage } from "./subnetUsage.js";
import type { Tables } from "./tables.js";

/**
 * A subnet with its descendants and their usage (the tree \`ipam usage\` and \`ipam map\` draw).
 * Run it inside one consistent read. An empty list: the subnet does not exist.
 */
export async function readSubnetTree(
  db: CommonQueryMethods,
  t: Tables,
  rootId: number,
  maxDepth: number,
  limit: number,
): Promise<{ entries: SubnetTreeEntry[]; truncated: boolean }> {
  const { nodes, truncated } = await subnetTreeIds(db, t, rootId, maxDepth, limit);
  const rows = await subnetRowsById(db, t, nodes.map((node) => node.id));
  const entries: SubnetTreeEntry[] = [];
  for (const node of nodes) {
    const row = rows.get(node.id)!;
    entries.push({ subnet: subnetFromRow(row), depth: node.depth, usage: await readSubnetUsage(db, t, row) });
  }
  return { entries, truncated };
}

/**
 * A subnet and its descendants, depth first, children in address order, at most `limit` of them.
 * @returns ids with their depth (0 for the subnet itself), and whether more were left out
 */
async function subnetTreeIds(
  db: CommonQueryMethods,
  t: Tables,
  rootId: number,
  maxDepth: number,
  limit: number,
): Promise<{ nodes: { id: number; depth: number }[]; truncated: boolean }> {
  const rows = await db.any(sql.type(z.object({ id: z.number(), depth: z.number() }))`
    WITH RECURSIVE tree AS (
      SELECT id, 0 AS depth, ARRAY[cidr] AS path FROM ${t.subnet} WHERE id = ${rootId}
      UNION ALL
      SELECT c.id, tree.depth + 1, tree.path || c.cidr FROM tree JOIN ${t.subnet} c ON c.parent_id = tree.id WHERE tree.depth < ${maxDepth}
    )
    SELECT id, depth FROM tree ORDER BY path LIMIT ${limit + 1}
  `);
  return { nodes: rows.slice(0, limit).map((row) => ({ id: row.id, depth: row.depth })), truncated: rows.length > limit };
}

/** Rows of these subnets, by id. */
async function subnetRowsById(db: CommonQueryMethods, t: Tables, ids: readonly number[]): Promise<Map<number, SubnetRow>> {
  if (ids.length === 0) return new Map();
  const rows = await db.any(sql.type(subnetRow)`${selectSubnet(t)} WHERE s.id = ANY(${sql.array([...ids], "int4")})`);
  return new Map(rows.map((row) => [row.id, row]));
}

import { sql } from "slonik";
import { z } from "zod";
import { ADDRESS_BITS, MIN_PREFIX_LENGTH } from "../../core/address.js";
import type { SubnetTreeEntry } from "../../core/types.js";
import { subnetRow, type SubnetRow } from "../rows/rowShapes.js";
import { subnetFromRow } from "../rows/subnetRecords.js";
import { selectSubnet } from "../rows/subnetQueries.js";
import { readSubnetUsages } from "./subnetUsage.js";
import { type BoundConnection } from "../database/storeDatabase.js";

/**
 * A subnet with its descendants and their usage (the tree \`ipam usage\` and \`ipam map\` draw).
 * Run it inside one consistent read. An empty list: the subnet does not exist.
 */
export async function readSubnetTree(
  db: BoundConnection,
  rootId: number,
  maxDepth: number,
  limit: number,
): Promise<{ entries: SubnetTreeEntry[] } & TreeTruncation> {
  const { nodes, ...truncation } = await subnetTreeIds(db, rootId, maxDepth, limit);
  const rows = await subnetRowsById(db, nodes.map((node) => node.id));
  const ordered = nodes.map((node) => rows.get(node.id)!);
  const usages = await readSubnetUsages(db, ordered);
  const entries = ordered.map((row, index): SubnetTreeEntry => ({ subnet: subnetFromRow(row), depth: nodes[index]!.depth, usage: usages[index]! }));
  return { entries, ...truncation };
}

/**
 * How deep a tree can be: each child's prefix is longer than its parent's, so from an IPv6 /16
 * (the shortest prefix accepted) down to /128 there are at most 112 levels below the root.
 */
export const MAX_TREE_DEPTH = ADDRESS_BITS[6] - MIN_PREFIX_LENGTH[6];

/** Whether a tree was cut short, and why (so a reader never takes a partial tree for the whole). */
export interface TreeTruncation {
  readonly truncated: boolean;
  /** Null when the whole tree is there. */
  readonly truncatedReason: string | null;
}

/**
 * A subnet and its descendants to `maxDepth` levels, depth first, children in address order, at
 * most `limit` of them. The recursion reads one level more than shown, to know whether it stopped
 * above subnets that exist, and at most `limit` + 1 children of any parent.
 * @returns ids with their depth (0 for the subnet itself), and whether and why more were left out
 */
async function subnetTreeIds(
  db: BoundConnection,
  rootId: number,
  maxDepth: number,
  limit: number,
): Promise<{ nodes: { id: number; depth: number }[] } & TreeTruncation> {
  const rows = await db.any(sql.type(z.object({ id: z.number(), depth: z.number(), deeper: z.boolean() }))`
    WITH RECURSIVE tree AS (
      SELECT id, 0 AS depth, ARRAY[cidr] AS path FROM ${db.t.subnet} WHERE id = ${rootId}
      UNION ALL
      -- At most limit + 1 children of each parent, the lowest: no later sibling can be among the
      -- first limit + 1 in tree order, so a parent of 10k children reads 1,001, not 10k (issue 14).
      SELECT c.id, tree.depth + 1, tree.path || c.cidr FROM tree
      CROSS JOIN LATERAL (SELECT id, cidr FROM ${db.t.subnet} WHERE parent_id = tree.id ORDER BY cidr LIMIT ${limit + 1}) c
      WHERE tree.depth < ${maxDepth + 1}
    ), shown AS (
      SELECT id, depth, path FROM tree WHERE depth <= ${maxDepth} ORDER BY path LIMIT ${limit + 1}
    )
    SELECT id, depth, EXISTS (SELECT FROM tree WHERE depth > ${maxDepth}) AS deeper FROM shown ORDER BY path
  `);
  const reasons: string[] = [];
  if (rows.length > limit) reasons.push(`more than ${limit} subnets: the first ${limit} in tree order are shown`);
  if (rows[0]?.deeper === true) reasons.push(`deeper than ${maxDepth} levels: subnets below that depth are left out`);
  return {
    nodes: rows.slice(0, limit).map((row) => ({ id: row.id, depth: row.depth })),
    truncated: reasons.length > 0,
    truncatedReason: reasons.length > 0 ? reasons.join("; ") : null,
  };
}

/** Rows of these subnets, by id. */
async function subnetRowsById(db: BoundConnection, ids: readonly number[]): Promise<Map<number, SubnetRow>> {
  if (ids.length === 0) return new Map();
  const rows = await db.any(sql.type(subnetRow)`${selectSubnet(db.t)} WHERE s.id = ANY(${sql.array([...ids], "int4")})`);
  return new Map(rows.map((row) => [row.id, row]));
}

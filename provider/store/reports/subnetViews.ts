import { parseAddress } from "../../core/address.js";
import { NotFoundError } from "../../core/errors.js";
import { historyFilterSchema, type AuditEvent, type HistoryFilter } from "../../core/historyFilter.js";
import { LIMITS, parseInput } from "../../core/schemas.js";
import { type SubnetTreeEntry } from "../../core/types.js";
import { type StoreDatabase } from "../database/storeDatabase.js";
import { listAuditEvents } from "./historyQueries.js";
import { mapCellBitsSchema, mapGrid, readMapCells, readMapChildBlocks, readMapHeldBlocks, readMapHeldCells, type SubnetMapData } from "./subnetMapData.js";
import { MAX_TREE_DEPTH, readSubnetTree, type TreeTruncation } from "./subnetTree.js";
import { ownerUsageRows } from "./usageQueries.js";
import { requireSubnetRow } from "../rows/subnetQueries.js";
import { layoutOf, subnetFromRow, subnetKey } from "../rows/subnetRecords.js";
import { z } from "zod";

/* What `ipam map`, the tree views and `ipam history` read. */

/**
 * A subnet and its descendants, depth first with children in address order, each with its
 * usage, read at one moment: what \`ipam usage\` and \`ipam map\` show as a tree. Every level by
 * default; `truncated` with `truncatedReason` says when `limit` or `maxDepth` left subnets out.
 * @throws InvalidInputError, NotFoundError
 */
export async function subnetTree(db: StoreDatabase, subnetId: string, options: { maxDepth?: number; limit?: number } = {}): Promise<{ entries: SubnetTreeEntry[] } & TreeTruncation> {
  const id = subnetKey(subnetId);
  const maxDepth = parseInput(z.number().int().min(0).max(MAX_TREE_DEPTH), options.maxDepth ?? MAX_TREE_DEPTH, "maxDepth");
  const limit = parseInput(z.number().int().min(1).max(LIMITS.pageSize), options.limit ?? LIMITS.pageSize, "limit");
  return db.consistent("reading a subnet tree", async (tx) => {
      const tree = await readSubnetTree(tx, id, maxDepth, limit);
      if (tree.entries.length === 0) throw new NotFoundError("subnet", subnetId);
      return tree;
  });
}

/**
 * What a picture of the subnet needs: its layout, per cell of a grid of at most 2^maxCellBits
 * cells (default 1,024) who holds its addresses, and the cells its child subnets cover.
 * @throws InvalidInputError, NotFoundError
 */
export async function subnetMap(db: StoreDatabase, subnetId: string, options: { maxCellBits?: number } = {}): Promise<SubnetMapData> {
  const id = subnetKey(subnetId);
  const bits = parseInput(mapCellBitsSchema, options?.maxCellBits ?? 10, "maxCellBits");
  return db.consistent("reading a subnet map", async (tx) => {
      const row = await requireSubnetRow(tx, id, subnetId);
      const layout = layoutOf(row);
      const grid = mapGrid(layout, bits);
      const cells = await readMapCells(tx, id, layout, grid);
      const childBlocks = await readMapChildBlocks(tx, id, layout, grid);
      const heldCells = await readMapHeldCells(tx, id, layout, grid);
      const heldBlocks = await readMapHeldBlocks(tx, id, layout, grid);
      return { subnet: subnetFromRow(row, layout), grid, cells, owners: await ownerUsageRows(tx, id), childBlocks, heldCells, heldBlocks };
  });
}

/**
 * Who allocated, grew, shrank and released what, and every subnet change, newest first, from the
 * audit table the database writes (migration 0007 triggers) with each change. Pass `next` as `before`.
 * @throws InvalidInputError
 */
export async function history(db: StoreDatabase, filter: HistoryFilter = {}): Promise<{ events: AuditEvent[]; next: string | null }> {
  const query = parseInput(historyFilterSchema, filter);
  const address = query.address === undefined ? undefined : parseAddress(query.address, "address").text;
  const limit = query.limit ?? 100;
  const events = await db.read("reading history", (tx) =>
    listAuditEvents(tx, { ...query, subnetId: query.subnetId === undefined ? undefined : Number(query.subnetId), address, limit }),
  );
  return { events, next: events.length === limit ? events.at(-1)!.id : null };
}

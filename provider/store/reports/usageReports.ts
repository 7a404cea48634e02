import { listHeldBlocks, listHolds } from "../space/holdDown.js";
import { subnetPageRows } from "../subnets/subnetReads.js";
import { NotFoundError } from "../../core/errors.js";
import { LIMITS, parseInput, subnetFilterSchema, subnetPageSchema } from "../../core/schemas.js";
import { type SubnetUsage } from "../../core/types.js";
import { type StoreDatabase } from "../database/storeDatabase.js";
import { type TreeTruncation } from "./subnetTree.js";
import { readSubnetUsage } from "./subnetUsage.js";
import { outsidePoolAddresses, ownerUsageRows, type SubnetUsageReport } from "./usageQueries.js";
import { readUsageReports, readUsageTree, type SubnetTreeReport } from "./usageTree.js";
import { requireSubnetRow } from "../rows/subnetQueries.js";
import { layoutOf, subnetFromRow, subnetKey } from "../rows/subnetRecords.js";
import { z } from "zod";

/* Usage of subnets, read at one moment: totals, holders, pages, trees. */

/** Totals for a subnet, as decimal strings; children count in `childPrefixes`/`childAddresses`. */
export async function usage(db: StoreDatabase, subnetId: string): Promise<SubnetUsage> {
  const id = subnetKey(subnetId);
  return db.consistent("computing usage", async (tx) => {
      const row = await requireSubnetRow(tx, id, subnetId);
      return readSubnetUsage(tx, row);
  });
}

/**
 * Usage of one subnet with its holders and the allocated addresses outside its pools.
 * @throws InvalidInputError, NotFoundError
 */
export async function usageReport(db: StoreDatabase, subnetId: string): Promise<SubnetUsageReport> {
  const totals = await usage(db, subnetId);
  const id = Number(totals.subnetId);
  return db.consistent("computing usage", async (tx) => {
      const row = await requireSubnetRow(tx, id, subnetId);
      const layout = layoutOf(row);
      const owners = await ownerUsageRows(tx, id);
      const outsidePool = await outsidePoolAddresses(tx, id, layout, LIMITS.pageSize);
      const held = totals.held === "0" ? [] : (await listHolds(tx, id, LIMITS.pageSize)).first;
      // Only a subnet with a hold can hold child blocks (migration 0014).
      const heldBlocks = row.release_hold_seconds === 0 ? [] : await listHeldBlocks(tx, id, LIMITS.pageSize);
      return { subnet: subnetFromRow(row, layout), usage: totals, owners, outsidePool, held, heldBlocks };
  });
}

/**
 * `usageReport` of every subnet (of one namespace, or all) a page at a time, in `listSubnetPage`
 * order, each page read at one moment: what `ipam usage` without a subnet shows. Pass the
 * returned `next` as `after`.
 * @throws InvalidInputError, NotFoundError (the subnet `after` names no longer exists)
 */
export async function usagePage(db: StoreDatabase, filter: { namespace?: string } = {}, page: { limit?: number; after?: string } = {}): Promise<{ reports: SubnetUsageReport[]; next: string | null }> {
  const { namespace } = parseInput(subnetFilterSchema, filter);
  const { limit = 100, after } = parseInput(subnetPageSchema, page);
  return db.consistent("computing usage", async (tx) => {
    const rows = await subnetPageRows(tx, namespace, limit, after);
    return { reports: await readUsageReports(tx, rows), next: rows.length === limit ? String(rows.at(-1)!.id) : null };
  });
}

/**
 * `usageReport` for a subnet and each of its descendants (depth first, children in address
 * order, at most `limit`, default 1,000), read at one moment: what `ipam usage SUBNET` shows.
 * `truncated` with `truncatedReason` says when subnets were left out.
 * @throws InvalidInputError, NotFoundError
 */
export async function usageTreeReport(db: StoreDatabase, subnetId: string, options: { limit?: number } = {}): Promise<{ reports: SubnetTreeReport[] } & TreeTruncation> {
  const id = subnetKey(subnetId);
  const limit = parseInput(z.number().int().min(1).max(LIMITS.pageSize), options?.limit ?? LIMITS.pageSize, "limit");
  return db.consistent("computing usage", async (tx) => {
      const tree = await readUsageTree(tx, id, limit);
      if (tree.reports.length === 0) throw new NotFoundError("subnet", subnetId);
      return tree;
  });
}

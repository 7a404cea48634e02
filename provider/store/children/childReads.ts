import { parseCidr } from "../../core/address.js";
import { childPageSchema, parseInput } from "../../core/schemas.js";
import { type Subnet } from "../../core/types.js";
import { listChildRows } from "./childQueries.js";
import { type StoreDatabase } from "../database/storeDatabase.js";
import { requireSubnetRow } from "../rows/subnetQueries.js";
import { subnetFromRow, subnetKey } from "../rows/subnetRecords.js";

/* Reading a parent's children a page at a time. */

/**
 * A parent's direct children in address order, in pages: pass the returned `next` as `after`.
 * @throws InvalidInputError, NotFoundError
 */
export async function listChildren(db: StoreDatabase, parentId: string, page: { limit?: number; after?: string } = {}): Promise<{ subnets: Subnet[]; next: string | null }> {
  const id = subnetKey(parentId);
  const { limit = 100, after } = parseInput(childPageSchema, page);
  const from = after === undefined ? null : parseCidr(after, "after");
  return db.consistent("listing child subnets", async (tx) => {
      await requireSubnetRow(tx, id, parentId);
      const rows = await listChildRows(tx, id, limit, from);
      return { subnets: rows.map((row) => subnetFromRow(row)), next: rows.length === limit ? rows.at(-1)!.cidr : null };
  });
}

import { parseInput, subnetFilterSchema, subnetPageSchema } from "../../core/schemas.js";
import { type Subnet } from "../../core/types.js";
import { type BoundConnection, type StoreDatabase } from "../database/storeDatabase.js";
import { requireSubnetRow, listSubnetRows } from "../rows/subnetQueries.js";
import { subnetFromRow, subnetKey } from "../rows/subnetRecords.js";

/* Reading subnets: one, all, a page. */

/** @throws InvalidInputError, NotFoundError */
export async function getSubnet(db: StoreDatabase, subnetId: string): Promise<Subnet> {
  const id = subnetKey(subnetId);
  return subnetFromRow(await db.read("reading a subnet", (tx) => requireSubnetRow(tx, id, subnetId)));
}

export async function listSubnets(db: StoreDatabase, filter: { namespace?: string } = {}): Promise<Subnet[]> {
  const { namespace } = parseInput(subnetFilterSchema, filter);
  const rows = await db.read("listing subnets", (tx) => listSubnetRows(tx, { namespace }));
  return rows.map((row) => subnetFromRow(row));
}

/**
 * `listSubnets` a page at a time (keyset: a deep page costs what the first does): pass the
 * returned `next` as `after`.
 * @throws InvalidInputError, NotFoundError (the subnet `after` names no longer exists)
 */
export async function listSubnetPage(db: StoreDatabase, filter: { namespace?: string } = {}, page: { limit?: number; after?: string } = {}): Promise<{ subnets: Subnet[]; next: string | null }> {
  const { namespace } = parseInput(subnetFilterSchema, filter);
  const { limit = 100, after } = parseInput(subnetPageSchema, page);
  return db.consistent("listing subnets", async (tx) => {
    const rows = await subnetPageRows(tx, namespace, limit, after);
    return { subnets: rows.map((row) => subnetFromRow(row)), next: rows.length === limit ? String(rows.at(-1)!.id) : null };
  });
}

/** @throws NotFoundError when the subnet `after` names no longer exists (its key is the cursor) */
export async function subnetPageRows(tx: BoundConnection, namespace: string | undefined, limit: number, after: string | undefined) {
  if (after !== undefined) await requireSubnetRow(tx, Number(after), after);
  return listSubnetRows(tx, { namespace }, { limit, after: after === undefined ? undefined : Number(after) });
}

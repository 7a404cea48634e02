import { parseInput, subnetFilterSchema, subnetPageSchema } from "../../core/schemas.js";
import { type Subnet } from "../../core/types.js";
import { type BoundConnection, type StoreDatabase } from "../database/storeDatabase.js";
import { countAllocations } from "../rows/allocationQueries.js";
import { getSubnetRow, requireSubnetRow, listSubnetRows } from "../rows/subnetQueries.js";
import { countChildren } from "../children/childQueries.js";
import { subnetFromRow, subnetKey } from "../rows/subnetRecords.js";

/* Reading subnets: one, all, a page, what holds one. */

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

/** What keeps a subnet from being deleted: its allocations and child subnets, each counted with the first few named. */
export interface SubnetHolders {
  /** Labelled `address (owner)`. */
  readonly allocations: { readonly count: number; readonly examples: readonly string[] };
  /** Labelled `id (cidr)`. */
  readonly children: { readonly count: number; readonly examples: readonly string[] };
}

/**
 * What holds a subnet, read at one moment and without its lock (deleteSubnet counts the same under
 * it): null when there is no such subnet. For callers that must refuse before anything changes.
 * @throws InvalidInputError (an id that is not a subnet key)
 */
export async function subnetHolders(db: StoreDatabase, subnetId: string): Promise<SubnetHolders | null> {
  const id = subnetKey(subnetId);
  return db.consistent("reading what holds a subnet", async (tx) => {
    if ((await getSubnetRow(tx, id)) === null) return null;
    return { allocations: await countAllocations(tx, id), children: await countChildren(tx, id) };
  });
}

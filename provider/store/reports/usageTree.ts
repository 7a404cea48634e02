import { listHeldBlocks, listHolds } from "../space/holdDown.js";
import { sql } from "slonik";
import { z } from "zod";
import { LIMITS } from "../../core/schemas.js";
import { getSubnetRow } from "../rows/subnetQueries.js";
import type { Subnet, SubnetUsage } from "../../core/types.js";
import type { SubnetRow } from "../rows/rowShapes.js";
import { layoutOf, subnetFromRow } from "../rows/subnetRecords.js";
import { readSubnetUsages } from "./subnetUsage.js";
import { MAX_TREE_DEPTH, readSubnetTree, type TreeTruncation } from "./subnetTree.js";
import { outsidePoolAddresses, type OwnerUsage, type SubnetUsageReport } from "./usageQueries.js";
import { type BoundConnection } from "../database/storeDatabase.js";

/** One subnet of a tree with its usage report: 0 deep for the subnet asked for, 1 for its children, ... */
export interface SubnetTreeReport extends SubnetUsageReport {
  readonly depth: number;
}

/**
 * A subnet and its descendants (depth first, children in address order, at most `limit`), each
 * with its usage, holders and addresses outside its pools: what `ipam usage SUBNET` shows. Run it
 * inside one consistent read. An empty list: the subnet does not exist.
 */
export async function readUsageTree(
  db: BoundConnection,
  rootId: number,
  limit: number,
): Promise<{ reports: SubnetTreeReport[] } & TreeTruncation> {
  // Every level: a tree cannot be deeper than MAX_TREE_DEPTH (was 64, which cut IPv6 trees short unannounced).
  const { entries, ...truncation } = await readSubnetTree(db, rootId, MAX_TREE_DEPTH, limit);
  return { reports: await withHolders(db, entries), ...truncation };
}

/**
 * Usage reports of these subnets, in the order given (a page of `listSubnetRows`): the usage of
 * all of them in one query, their holders in another. Run it inside one consistent read.
 */
export async function readUsageReports(db: BoundConnection, rows: readonly SubnetRow[]): Promise<SubnetUsageReport[]> {
  const usages = await readSubnetUsages(db, rows);
  return withHolders(db, rows.map((row, index) => ({ subnet: subnetFromRow(row), usage: usages[index]! })));
}

/** Each subnet's usage with its holders and the addresses it holds outside its pools. */
async function withHolders<E extends { subnet: Subnet; usage: SubnetUsage }>(
  db: BoundConnection,
  entries: readonly E[],
): Promise<(E & Pick<SubnetUsageReport, "owners" | "outsidePool" | "held" | "heldBlocks">)[]> {
  const owners = await ownersBySubnet(db, entries.map((entry) => Number(entry.subnet.id)));
  const reports: (E & Pick<SubnetUsageReport, "owners" | "outsidePool" | "held" | "heldBlocks">)[] = [];
  for (const entry of entries) {
    const id = Number(entry.subnet.id);
    // Only subnets with such addresses pay for the query (its condition depends on each layout).
    const outsidePool = entry.usage.outsidePool === "0" ? [] : await outsidePoolAddresses(db, id, layoutOf((await getSubnetRow(db, id))!), LIMITS.pageSize);
    const held = entry.usage.held === "0" ? [] : (await listHolds(db, id, LIMITS.pageSize)).first;
    // Only a subnet with a hold can hold child blocks (migration 0014).
    const heldBlocks = entry.subnet.releaseHoldSeconds === 0 ? [] : await listHeldBlocks(db, id, LIMITS.pageSize);
    reports.push({ ...entry, owners: owners.get(id) ?? [], outsidePool, held, heldBlocks });
  }
  return reports;
}

const ownerRow = z.object({ subnet_id: z.number(), owner: z.string(), allocations: z.number(), addresses: z.string() });

/** Who holds how much of each subnet, largest holder first: one query for the whole tree. */
async function ownersBySubnet(db: BoundConnection, ids: readonly number[]): Promise<Map<number, OwnerUsage[]>> {
  if (ids.length === 0) return new Map();
  const rows = await db.any(sql.type(ownerRow)`
    SELECT x.subnet_id, a.owner, count(DISTINCT a.id)::int AS allocations, count(*)::text AS addresses
    FROM ${db.t.allocatedAddress} x JOIN ${db.t.allocation} a ON a.id = x.allocation_id
    WHERE x.subnet_id = ANY(${sql.array([...ids], "int4")})
    GROUP BY x.subnet_id, a.owner
    ORDER BY x.subnet_id, count(*) DESC, a.owner
  `);
  const bySubnet = new Map<number, OwnerUsage[]>();
  for (const row of rows) {
    const owners = bySubnet.get(row.subnet_id) ?? [];
    owners.push({ owner: row.owner, allocations: row.allocations, addresses: row.addresses });
    bySubnet.set(row.subnet_id, owners);
  }
  return bySubnet;
}

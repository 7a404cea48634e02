import type { CommonQueryMethods } from "slonik";
import { SNAPSHOT_FORMAT, type Snapshot, type SnapshotAllocation, type SnapshotSubnet } from "../core/snapshot.js";
import { LIMITS } from "../core/schemas.js";
import { allocationFromRow, listAllocationRows } from "./allocationQueries.js";
import { subnetFromRow } from "./subnetRecords.js";
import { listSubnetRows } from "./subnetQueries.js";
import type { Tables } from "./tables.js";

/**
 * Every subnet (of one namespace, or all) with all its allocations, in the versioned snapshot
 * format. Run it inside one consistent read so the file is a picture of a single moment.
 */
export async function readSnapshot(db: CommonQueryMethods, t: Tables, filter: { namespace?: string | undefined }): Promise<Snapshot> {
  const subnets: SnapshotSubnet[] = [];
  const allocations: SnapshotAllocation[] = [];
  for (const row of await listSubnetRows(db, t, { namespace: filter.namespace })) {
    const subnet = subnetFromRow(row);
    subnets.push({
      id: subnet.id,
      namespace: subnet.namespace,
      parentId: subnet.parentId,
      cidr: subnet.cidr,
      gateway: subnet.gateway,
      allocationPools: subnet.allocationPoolsExplicit ? subnet.allocationPools.map((pool) => ({ ...pool })) : null,
      reserved: [...subnet.reserved],
      description: subnet.description,
      tags: { ...subnet.tags },
      createdAt: subnet.createdAt,
      updatedAt: subnet.updatedAt,
    });
    for (let after: string | undefined; ; ) {
      const page = await listAllocationRows(db, t, { subnetId: row.id }, LIMITS.pageSize, after);
      for (const allocation of page.map(allocationFromRow)) {
        allocations.push({
          id: allocation.id,
          subnetId: allocation.subnetId,
          owner: allocation.owner,
          idempotencyKey: allocation.idempotencyKey,
          strategy: allocation.strategy,
          addresses: [...allocation.addresses],
          description: allocation.description,
          tags: { ...allocation.tags },
          createdAt: allocation.createdAt,
          updatedAt: allocation.updatedAt,
        });
      }
      if (page.length < LIMITS.pageSize) break;
      after = page.at(-1)!.id;
    }
  }
  return { format: SNAPSHOT_FORMAT, exportedAt: new Date().toISOString(), subnets, allocations };
}

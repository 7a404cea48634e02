import { ConflictError, IpamError, OverlapError } from "../../core/errors.js";
import { parseCidr } from "../../core/address.js";
import { planStateSubnet, type StateSubnet, type StateSubnetPlan } from "../../core/stateSubnets.js";
import { claimChildBlock, takeChildSpace } from "../children/childAllocator.js";
import { childByKey, overlappingChild } from "../children/childQueries.js";
import { topLevelSubnetByKey } from "../claims/claims.js";
import type { BoundConnection } from "../database/storeDatabase.js";
import { allocationHolding } from "../rows/allocationQueries.js";
import type { SubnetRow } from "../rows/rowShapes.js";
import { auditHint, findOverlapping, getSubnetRow, insertSubnet, upsertNamespace } from "../rows/subnetQueries.js";
import { layoutOf } from "../rows/subnetRecords.js";
import { rebuildFreeRanges } from "../space/freeSpace.js";

/** A state subnet with the idempotency key its resource asks with (null when the state cannot tell). */
export interface ReconcileSubnetItem extends StateSubnet {
  readonly idempotencyKey: string | null;
}

export interface SubnetHolder {
  readonly urn?: string;
  readonly subnetId: string;
  readonly cidr: string;
  readonly namespace?: string;
}

export interface SubnetConflict {
  readonly urn: string;
  readonly subnetId: string;
  readonly reason: string;
  /** What the state says the subnet is, and what the database holds in its way. */
  readonly state: SubnetHolder;
  readonly database: SubnetHolder | { readonly allocationId: string; readonly owner: string } | null;
}

export interface SubnetReport {
  readonly restored: { urn: string; subnetId: string; cidr: string; parentId: string | null; leftEmpty: readonly string[] }[];
  readonly alreadyHeld: { urn: string; subnetId: string }[];
  readonly conflicts: SubnetConflict[];
  readonly skipped: { urn: string; subnetId: string; reason: string }[];
}

export const emptySubnetReport = (): SubnetReport => ({ restored: [], alreadyHeld: [], conflicts: [], skipped: [] });

/** Parents before children (a child's parent is in the database, or re-created just before it), then by id. */
export function parentsFirst<T extends { subnetId: string; parentId: string | null }>(subnets: readonly T[]): T[] {
  const byId = new Map(subnets.map((subnet) => [subnet.subnetId, subnet]));
  const depth = (subnet: T, seen: Set<string>): number => {
    const parent = subnet.parentId === null ? undefined : byId.get(subnet.parentId);
    if (parent === undefined || seen.has(parent.subnetId)) return 0;
    return 1 + depth(parent, seen.add(subnet.subnetId));
  };
  const keyed = subnets.map((subnet) => ({ subnet, depth: depth(subnet, new Set()) }));
  return keyed.sort((a, b) => a.depth - b.depth || Number(a.subnet.subnetId) - Number(b.subnet.subnetId)).map((entry) => entry.subnet);
}

/**
 * Re-create one subnet a stack's state holds and the database lacks, with its id, CIDR, namespace,
 * parent, layout, settings, key and claim, under the caller's locks (the subnet's and its parent's).
 * Left alone when the database holds it as the state says; a conflict (its id, its key or its block
 * held by something else: both named) or a reason to skip is reported, and nothing is overwritten.
 */
export async function reassertSubnet(tx: BoundConnection, item: ReconcileSubnetItem, installationId: string, report: SubnetReport): Promise<void> {
  const { urn, subnetId } = item;
  const state: SubnetHolder = { urn, subnetId, cidr: item.cidr ?? "(secret)", ...(item.namespace === null ? {} : { namespace: item.namespace }) };
  const skip = (reason: string) => void report.skipped.push({ urn, subnetId, reason });
  const conflict = (reason: string, database: SubnetConflict["database"]) => void report.conflicts.push({ urn, subnetId, reason, state, database });
  if (item.database !== null && item.database !== installationId) return skip(`it belongs to IPAM database ${item.database}, not this one (${installationId})`);
  if (!/^\d{1,10}$/.test(subnetId) || Number(subnetId) >= 2 ** 31 || (item.parentId !== null && !/^\d{1,10}$/.test(item.parentId))) return skip("its ids are not IPAM ids");
  const existing = await getSubnetRow(tx, Number(subnetId));
  if (existing !== null) {
    if (existing.cidr === item.cidr && sameParent(existing, item) && (item.parentId !== null || existing.namespace === item.namespace)) {
      return void report.alreadyHeld.push({ urn, subnetId });
    }
    return conflict(`subnet id ${subnetId} is now ${existing.cidr} in namespace "${existing.namespace}", not the state's ${item.cidr ?? "subnet"}`, holderOf(existing));
  }
  let plan: StateSubnetPlan;
  try {
    plan = planStateSubnet(item);
  } catch (error) {
    if (error instanceof IpamError) return skip(error.message);
    throw error;
  }
  const parent = item.parentId === null ? null : await getSubnetRow(tx, Number(item.parentId));
  if (item.parentId !== null && parent === null) return skip(`its parent subnet ${item.parentId} is not in this database (export the stack that declares it too)`);
  const namespace = parent?.namespace ?? plan.fields.namespace ?? "default";
  if (parent !== null && item.namespace !== null && item.namespace !== parent.namespace) {
    return skip(`its namespace "${item.namespace}" is not its parent's ("${parent.namespace}")`);
  }
  if (item.idempotencyKey !== null) {
    const twin = parent === null ? await topLevelSubnetByKey(tx, namespace, item.idempotencyKey) : await childByKey(tx, parent.id, item.idempotencyKey);
    if (twin !== null) {
      return conflict(`its idempotency key is used by subnet ${twin.id} (${twin.cidr}): the stack created it again after the restore`, holderOf(twin));
    }
  }
  const cidr = plan.layout.cidr.text;
  if (parent === null) {
    const overlapping = await findOverlapping(tx, namespace, cidr);
    if (overlapping !== null) return conflict(`${cidr} overlaps subnet ${overlapping} in namespace "${namespace}"`, labelHolder(overlapping, namespace));
  } else {
    try {
      await claimChildBlock(tx, { id: parent.id, row: parent, layout: layoutOf(parent) }, { cidr: parseCidr(cidr, "cidr") });
    } catch (error) {
      if (error instanceof OverlapError) return conflict(`${error.message} (a sibling under parent ${parent.id})`, labelHolder(await overlappingChild(tx, parent.id, parent.namespace, plan.layout.cidr), parent.namespace));
      if (error instanceof ConflictError) {
        const holder = await allocationHolding(tx, parent.id, error.addresses[0]!);
        return conflict(error.message, holder === null ? null : { allocationId: holder.id, owner: holder.owner });
      }
      if (error instanceof IpamError) return skip(error.message);
      throw error;
    }
  }
  // The audit trigger writes subnet.import with the state's id as its source.
  await auditHint(tx, { action: "import", strategy: "reconcile", sourceId: subnetId });
  const fields = plan.fields;
  const id = await insertSubnet(
    tx,
    parent?.namespace_id ?? (await upsertNamespace(tx, namespace)),
    parent?.id ?? null,
    {
      layout: plan.layout,
      description: fields.description ?? "",
      tags: fields.tags ?? {},
      childrenOnly: fields.childrenOnly ?? false,
      rules: { minPrefixLength: fields.minPrefixLength ?? null, maxPrefixLength: fields.maxPrefixLength ?? null, defaultPrefixLength: fields.defaultPrefixLength ?? null },
      releaseHoldSeconds: fields.releaseHoldSeconds ?? 0,
      idempotencyKey: item.idempotencyKey,
    },
    { id: Number(subnetId), claim: item.claim },
  );
  // As createSubnet (top level) and carveChildSubnet (a child: the database cuts its block out of the
  // parent's free space; its own free ranges unless it hands out children only) do.
  if (parent !== null) await takeChildSpace(tx, parent.id, id);
  if (parent === null || !(fields.childrenOnly ?? false)) await rebuildFreeRanges(tx, id);
  await auditHint(tx, {});
  report.restored.push({ urn, subnetId, cidr, parentId: item.parentId, leftEmpty: plan.leftEmpty });
}

function sameParent(row: SubnetRow, item: ReconcileSubnetItem): boolean {
  return (row.parent_id === null ? null : String(row.parent_id)) === item.parentId;
}

function holderOf(row: SubnetRow): SubnetHolder {
  return { subnetId: String(row.id), cidr: row.cidr, namespace: row.namespace };
}

/** A holder from the "id (cidr)" label the overlap queries return. */
function labelHolder(label: string | null, namespace: string): SubnetHolder | null {
  const match = label === null ? null : /^(\d+) \((.*)\)$/.exec(label);
  return match === null ? null : { subnetId: match[1]!, cidr: match[2]!, namespace };
}

import { sql } from "slonik";
import { z } from "zod";
import type { StateAllocation } from "../../core/stateExport.js";
import { allocationFromRow, allocationHolding, getAllocationByKey, getAllocationRow } from "../rows/allocationQueries.js";
import type { BoundConnection, StoreDatabase } from "../database/storeDatabase.js";
import { syncFreeRanges } from "../space/freeSpace.js";
import { releaseHold } from "../space/holdDown.js";
import { auditHint, getSubnetRow } from "../rows/subnetQueries.js";
import { ordinalTextRow } from "../rows/rowShapes.js";
import { readInstallationId } from "../schema/installation.js";
import { finishReopen, ownerOnly, recordFence, type FenceProblem } from "./writeFence.js";
import { emptySubnetReport, parentsFirst, reassertSubnet, type ReconcileSubnetItem, type SubnetReport } from "./reconcileSubnets.js";

/** A state allocation with the idempotency key its resource asks with (the provider's `ownerKey`). */
export interface ReconcileItem extends StateAllocation {
  readonly idempotencyKey: string | null;
}

export interface Holder {
  readonly urn?: string;
  readonly allocationId: string;
  readonly owner: string;
}

export interface ReconcileConflict {
  readonly urn: string;
  readonly allocationId: string;
  readonly reason: string;
  /** What the state says holds it, and what the database says holds it. */
  readonly state: Holder;
  readonly database: Holder | null;
}

export interface ReconcileReport {
  readonly dryRun: boolean;
  /** What the write fence had detected (null: writes were open). */
  readonly detected: FenceProblem | null;
  readonly restored: readonly { urn: string; allocationId: string; addresses: readonly string[] }[];
  readonly alreadyHeld: readonly { urn: string; allocationId: string }[];
  readonly conflicts: readonly ReconcileConflict[];
  readonly skipped: readonly { urn: string; allocationId: string; reason: string }[];
  /** The subnets the states hold: re-created (parents first) before the allocations under them. */
  readonly subnets: SubnetReport;
  /** Writes are open once this ran (not on a dry run). */
  readonly reopened: boolean;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends readonly (infer E)[] ? E[] : T[K] };

/** What the states hold: their subnets and their allocations. */
export interface ReconcileInput {
  readonly subnets: readonly ReconcileSubnetItem[];
  readonly allocations: readonly ReconcileItem[];
}

/**
 * Re-create every subnet the given states hold and the database lacks (reconcileSubnets.ts), parents
 * before children, then re-assert every allocation they hold, all in one transaction holding the
 * locks of their subnets: same id, subnet, addresses, owner, key and claim. An allocation already held as the
 * state says is left alone (so a second run changes nothing); an address, id or key the database
 * gives to someone else is a conflict reported with both holders and never overwritten; a resource
 * of another database is skipped. Writes are re-opened (migration 0011's fence recorded, ids moved
 * past the states' highest) and one `database.reconcile` audit row is written, unless `dryRun`,
 * which rolls everything back and reports what would happen.
 * @throws DatabaseError (42501 when the role may not re-open writes: run it as the schema owner)
 */
export async function reconcileFromState(db: StoreDatabase, input: ReconcileInput, options: { dryRun: boolean }): Promise<ReconcileReport> {
  const installationId = await db.read("reading the database identity", (tx) => readInstallationId(tx));
  return ownerOnly("reconciling", () => reconcileIn(db, input, { ...options, installationId }));
}

async function reconcileIn(db: StoreDatabase, input: ReconcileInput, options: { dryRun: boolean; installationId: string }): Promise<ReconcileReport> {
  const items = input.allocations;
  const subnets = parentsFirst(uniqueSubnets(input.subnets));
  const mentioned = [...items.map((item) => item.subnetId), ...subnets.flatMap((subnet) => [subnet.subnetId, subnet.parentId ?? ""])];
  const subnetIds = [...new Set(mentioned.map(Number))].filter((id) => Number.isSafeInteger(id) && id > 0 && id < 2 ** 31);
  let report: Mutable<ReconcileReport> | undefined;
  try {
    return await db.locked(subnetIds, "reconciling from state", async (tx) => {
      const detected = await recordFence(tx, "reconcile");
      report = { dryRun: options.dryRun, detected, restored: [], alreadyHeld: [], conflicts: [], skipped: [], subnets: emptySubnetReport(), reopened: !options.dryRun };
      for (const subnet of subnets) await reassertSubnet(tx, subnet, options.installationId, report.subnets);
      const ordered = [...items].sort((a, b) => compareIds(a.allocationId, b.allocationId));
      for (const item of ordered) await reassert(tx, item, options.installationId, report);
      const known = {
        allocation: ordered.reduce((max, item) => (/^\d{1,18}$/.test(item.allocationId) && BigInt(item.allocationId) > max ? BigInt(item.allocationId) : max), 0n),
        subnet: subnetIds.reduce((max, id) => Math.max(max, id), 0),
      };
      const counts = {
        restored: report.restored.length,
        alreadyHeld: report.alreadyHeld.length,
        conflicts: report.conflicts.length,
        skipped: report.skipped.length,
        subnets: { restored: report.subnets.restored.length, alreadyHeld: report.subnets.alreadyHeld.length, conflicts: report.subnets.conflicts.length, skipped: report.subnets.skipped.length },
      };
      // Kept ids written while writes were open must still never be drawn again.
      const wroteKeptIds = report.restored.length + report.subnets.restored.length > 0;
      await finishReopen(tx, "reconcile", detected, known, counts, wroteKeptIds);
      // A dry run ends here: the error rolls the transaction back, and the report is returned below.
      if (options.dryRun) throw new Error("dry run");
      return report;
    });
  } catch (error) {
    if (options.dryRun && report !== undefined) return report;
    throw error;
  }
}

/** One entry per subnet id: several stacks' exports may repeat a subnet (a StackReference does not, a `Subnet.get` does). */
function uniqueSubnets(subnets: readonly ReconcileSubnetItem[]): ReconcileSubnetItem[] {
  const byId = new Map<string, ReconcileSubnetItem>();
  for (const subnet of subnets) {
    const seen = byId.get(subnet.subnetId);
    // The one with a CIDR and a claim is the declaring resource's.
    if (seen === undefined || (seen.claim === null && subnet.claim !== null)) byId.set(subnet.subnetId, subnet);
  }
  return [...byId.values()];
}

function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

async function reassert(tx: BoundConnection, item: ReconcileItem, installationId: string, report: Mutable<ReconcileReport>): Promise<void> {
  const { urn, allocationId } = item;
  const stateHolder: Holder = { urn, allocationId, owner: item.owner };
  const skip = (reason: string) => void report.skipped.push({ urn, allocationId, reason });
  const conflict = (reason: string, database: Holder | null) => void report.conflicts.push({ urn, allocationId, reason, state: stateHolder, database });
  if (item.database !== null && item.database !== installationId) return skip(`it belongs to IPAM database ${item.database}, not this one (${installationId})`);
  if (!/^\d{1,18}$/.test(allocationId) || !/^\d{1,10}$/.test(item.subnetId)) return skip("its ids are not IPAM ids");
  const existing = await getAllocationRow(tx, allocationId);
  if (existing !== null) {
    const held = allocationFromRow(existing);
    if (held.subnetId === item.subnetId && held.owner === item.owner && sameSet(held.addresses, item.addresses)) {
      return void report.alreadyHeld.push({ urn, allocationId });
    }
    return conflict(`allocation ${allocationId} is now ${held.owner}'s (${held.addresses.join(", ")}), not the state's`, { allocationId, owner: held.owner });
  }
  const subnet = await getSubnetRow(tx, Number(item.subnetId));
  if (subnet === null) return skip(`subnet ${item.subnetId} is not in this database and was not re-created from the given states (export the stack that declares it too)`);
  const outside = await tx.anyFirst(sql.type(z.object({ address: z.string() }))`
    SELECT a AS address FROM unnest(${sql.array([...item.addresses], "text")}) AS a WHERE NOT (a::inet <<= ${subnet.cidr}::cidr)
  `);
  if (outside.length > 0 || item.addresses.length === 0) return skip(`its addresses (${outside.join(", ") || "none"}) are not in subnet ${item.subnetId}`);
  let clear = true;
  for (const address of item.addresses) {
    const holder = await allocationHolding(tx, Number(item.subnetId), address);
    if (holder !== null) {
      clear = false;
      conflict(`address ${address} is held by allocation ${holder.id} (${holder.owner})`, { allocationId: holder.id, owner: holder.owner });
    }
  }
  if (item.idempotencyKey !== null) {
    const twin = await getAllocationByKey(tx, Number(item.subnetId), item.idempotencyKey);
    if (twin !== null && clear) {
      clear = false;
      conflict(`its idempotency key is used by allocation ${twin.id} (${twin.owner}): the stack created it again after the restore`, { allocationId: twin.id, owner: twin.owner });
    }
  }
  if (!clear) return;
  await insertAllocation(tx, item);
  report.restored.push({ urn, allocationId, addresses: [...item.addresses] });
}

async function insertAllocation(tx: BoundConnection, item: ReconcileItem): Promise<void> {
  const subnetId = Number(item.subnetId);
  await auditHint(tx, { action: "import", strategy: "reconcile", sourceId: item.allocationId });
  await tx.query(sql.unsafe`
    INSERT INTO ${tx.t.allocation} (id, subnet_id, owner, idempotency_key, strategy, requested_address, description, tags, claim)
    OVERRIDING SYSTEM VALUE
    VALUES (${item.allocationId}::bigint, ${subnetId}, ${item.owner}, ${item.idempotencyKey}, ${item.strategy},
            ${item.strategy === "specific" ? item.addresses[0]! : null}::inet, ${item.description ?? ""}, ${sql.jsonb(item.tags ?? {})}, ${item.claim})
  `);
  const ordinals = await tx.anyFirst(sql.type(ordinalTextRow)`
    INSERT INTO ${tx.t.allocatedAddress} (subnet_id, address, ordinal, allocation_id)
    SELECT ${subnetId}, a::inet, ${tx.t.inetToOrdinal}(a::inet), ${item.allocationId}::bigint FROM unnest(${sql.array([...item.addresses], "text")}) AS a
    RETURNING ordinal::text AS ordinal
  `);
  for (const ordinal of ordinals) {
    // An address held back after a release (hold-down) is the state's again.
    await releaseHold(tx, subnetId, BigInt(ordinal));
  }
  // The database takes the now allocated addresses out of the free ranges.
  await syncFreeRanges(tx, subnetId, ordinals.map((ordinal) => ({ first: BigInt(ordinal), last: BigInt(ordinal) })));
  await auditHint(tx, {});
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join(",") === [...b].sort().join(",");
}

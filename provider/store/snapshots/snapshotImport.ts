import { sql, type DatabasePool } from "slonik";
import { z } from "zod";
import { DatabaseError, OverlapError, SnapshotConflictError } from "../../core/errors.js";
import { groupBy } from "../../core/groupBy.js";
import type { ValidatedAllocation, ValidatedBlockHold, ValidatedHold, ValidatedSnapshot, ValidatedSubnet } from "../../core/snapshot.js";
import { failureOf, wrapDatabaseError } from "../database/databaseErrors.js";
import { rebuildFreeRanges } from "../space/freeSpace.js";
import { IMPORT_LOCK_KEY, IPAM_LOCK_CLASS } from "../database/lockKeys.js";
import { auditHint, upsertNamespace } from "../rows/subnetQueries.js";
import type { Tables } from "../database/tables.js";
import { type BoundConnection, bindTables, inLockedTransaction, type TransactionSettings } from "../database/storeDatabase.js";

export interface ImportOptions {
  /** Assign fresh ids instead of keeping the file's (to merge into a database that already uses them). */
  readonly newIds: boolean;
  readonly onProgress?: (done: number, total: number) => void;
  /**
   * A file's import (a CheckedSnapshotFile) returns no allocation id map (1M entries for 1M
   * allocations): under `newIds` it hands each window's source and target ids here as they are
   * written, inside the import's transaction, so they hold only if the import then resolves.
   */
  readonly onAllocationIds?: (pairs: readonly (readonly [source: string, target: string])[]) => void | Promise<void>;
}

export interface ImportResult {
  readonly subnets: number;
  readonly allocations: number;
  readonly addresses: number;
  /** Source id to id in this database (identical unless `newIds`). */
  readonly subnetIds: Readonly<Record<string, string>>;
  /**
   * Source allocation id to id in this database, for a snapshot passed in memory. Not for a file's
   * import (a CheckedSnapshotFile), whose result does not grow with it: see `onAllocationIds`.
   */
  readonly allocationIds?: Readonly<Record<string, string>>;
}

const ALLOCATIONS_PER_STATEMENT = 2_000;
const ADDRESSES_PER_STATEMENT = 10_000;
export const idRow = z.object({ id: z.string() });
const conflictRow = z.object({ position: z.string(), existing: z.string() });

/**
 * Write a validated snapshot in one transaction that holds the import lock (one at a time; the
 * subnets it creates are new, so no lock of theirs is needed): all of it lands or none of it does. Addresses, owners, idempotency keys, strategies and
 * timestamps are kept exactly; the free-range index of each subnet is rebuilt from its addresses.
 * @throws SnapshotConflictError when ids are taken, OverlapError when a subnet overlaps an existing one
 */
export async function importSnapshot(
  pool: DatabasePool,
  t: Tables,
  settings: TransactionSettings,
  snapshot: ValidatedSnapshot,
  options: ImportOptions,
): Promise<ImportResult> {
  let subnetIds: Map<string, string>;
  let allocationIds: Map<string, string>;
  try {
    await refuseWithoutSequenceRights(pool, t, options.newIds);
    subnetIds = await targetIds(pool, t, "subnet", snapshot.subnets.map((s) => s.record.id), options.newIds);
    allocationIds = await targetIds(pool, t, "allocation", snapshot.allocations.map((a) => a.record.id), options.newIds);
  } catch (error) {
    throw wrapDatabaseError(error, "importing a snapshot");
  }
  const progress = progressCounter(snapshot.subnets.length + snapshot.allocations.length, options);
  try {
    // No lock per subnet: every subnet written here is new, invisible to other sessions until the
    // commit (a lock per subnet ran out of lock memory, 53200, at ~15k subnets on a default server:
    // issue 22 item 6). One import lock keeps two imports from interleaving their id checks.
    return await inLockedTransaction(pool, [], settings, "importing a snapshot", async (raw) => {
      const tx = bindTables(raw, t);
      await takeImportLock(tx);
      if (!options.newIds) await advanceSequences(tx, snapshot);
      await refuseConflicts(tx, snapshot, subnetIds, allocationIds);
      const byParent = groupBy(snapshot.allocations, (allocation) => allocation.record.subnetId);
      const namespaces: NamespaceIds = new Map();
      let addresses = 0;
      for (const subnet of snapshot.subnets) {
        const id = await insertImportedSubnet(tx, namespaces, subnetIds, subnet);
        progress(1);
        const allocations = byParent.get(subnet.record.id) ?? [];
        for (let start = 0; start < allocations.length; start += ALLOCATIONS_PER_STATEMENT) {
          const chunk = allocations.slice(start, start + ALLOCATIONS_PER_STATEMENT);
          addresses += await insertAllocations(tx, id, subnet, chunk, allocationIds);
          progress(chunk.length);
        }
      }
      await writeHoldsAndFreeSpace(tx, snapshot, subnetIds);
      return {
        subnets: snapshot.subnets.length,
        allocations: snapshot.allocations.length,
        addresses,
        subnetIds: Object.fromEntries(subnetIds),
        allocationIds: Object.fromEntries(allocationIds),
      };
    });
  } catch (error) {
    throw importFailure(error);
  }
}

/**
 * What a failed import transaction tells its caller (both entry paths): a CIDR or a row taken by
 * another writer while importing is a conflict, anything else the database's error; nothing was imported.
 */
export function importFailure(error: unknown): Error {
  const failure = failureOf(error);
  if (failure.kind === "exclusion-violation") {
    return new SnapshotConflictError("subnets.cidr", "a subnet of the file overlaps one created in the target database while importing; nothing was imported, retry", []);
  }
  if (failure.kind === "unique-violation") {
    return new SnapshotConflictError("snapshot", `a row already exists in the target database (${failure.constraint ?? "unique key"}); nothing was imported`, []);
  }
  return wrapDatabaseError(error, "importing a snapshot");
}

/**
 * Import sets the id sequences of subnets and allocations (moving them past kept ids, or drawing
 * new ones): the schema owner's right, which the least-privilege role ipam_app does not have.
 * Say so before anything is written (issue 13 item 10: it failed with "permission denied for
 * sequence", or with --new-ids an unwrapped INTERNAL error).
 * @throws DatabaseError (42501) naming what to do
 */
export async function refuseWithoutSequenceRights(pool: DatabasePool, t: Tables, newIds: boolean): Promise<void> {
  const right = newIds ? "USAGE" : "UPDATE";
  const allowed = await pool.oneFirst(sql.type(z.object({ ok: z.boolean() }))`
    SELECT has_sequence_privilege(pg_get_serial_sequence(${`${t.schema}.subnet`}, 'id'), ${right})
       AND has_sequence_privilege(pg_get_serial_sequence(${`${t.schema}.allocation`}, 'id'), ${right}) AS ok
  `);
  if (!allowed) {
    throw new DatabaseError(
      `importing a snapshot ${newIds ? "draws new ids from" : "moves"} the id sequences of subnets and allocations, which this role may not: run the import as the schema owner (the administrator who migrated; the least-privilege role ipam_app cannot)`,
      "42501",
    );
  }
}

/** Source id to target id: the same ids, or fresh ones drawn from the table's identity sequence. */
export async function targetIds(pool: DatabasePool, t: Tables, table: "subnet" | "allocation", sources: readonly string[], fresh: boolean): Promise<Map<string, string>> {
  if (!fresh || sources.length === 0) return new Map(sources.map((id) => [id, id]));
  const ids = await pool.anyFirst(sql.type(idRow)`
    SELECT nextval(pg_get_serial_sequence(${`${t.schema}.${table}`}, 'id'))::text AS id FROM generate_series(1, ${sources.length})
  `);
  return new Map(sources.map((id, index) => [id, ids[index]!]));
}

/**
 * Move each identity sequence past the ids being imported before inserting them, so a concurrent
 * createSubnet or allocate can never draw one of them.
 */
async function advanceSequences(db: BoundConnection, snapshot: ValidatedSnapshot): Promise<void> {
  const highest = (ids: readonly string[]) => ids.reduce((max, id) => (BigInt(id) > max ? BigInt(id) : max), 0n);
  await advanceSequencesPast(db, highest(snapshot.subnets.map((s) => s.record.id)), highest(snapshot.allocations.map((a) => a.record.id)));
}

/** advanceSequences given the highest ids (0n: none). */
export async function advanceSequencesPast(db: BoundConnection, subnet: bigint, allocation: bigint): Promise<void> {
  for (const [table, max] of [
    ["subnet", subnet],
    ["allocation", allocation],
  ] as const) {
    if (max === 0n) continue;
    const sequence = sql.fragment`pg_get_serial_sequence(${`${db.t.schema}.${table}`}, 'id')`;
    await db.query(sql.unsafe`
      SELECT setval(${sequence}, greatest(${max.toString()}::bigint, coalesce(pg_sequence_last_value(${sequence}::regclass), 0)))
    `);
  }
}

async function refuseConflicts(
  db: BoundConnection,
  snapshot: ValidatedSnapshot,
  subnetIds: ReadonlyMap<string, string>,
  allocationIds: ReadonlyMap<string, string>,
): Promise<void> {
  await refuseTakenSubnetIds(db, subnetIds);
  const takenAllocations = await db.anyFirst(sql.type(idRow)`
    SELECT a.id::text AS id FROM ${db.t.allocation} a WHERE a.id = ANY(${sql.array([...allocationIds.values()], "int8")}) ORDER BY a.id LIMIT 20
  `);
  if (takenAllocations.length > 0) throw new SnapshotConflictError("allocations.id", `allocation ids ${TAKEN_ADVICE}`, takenAllocations);
  await refuseOverlappingRoots(db, snapshot.subnets);
}

export const TAKEN_ADVICE = "already exist in the target database (import into an empty schema, or pass --new-ids)";

/** @throws SnapshotConflictError naming up to 20 of the target subnet ids already taken */
export async function refuseTakenSubnetIds(db: BoundConnection, subnetIds: ReadonlyMap<string, string>): Promise<void> {
  const takenSubnets = await db.anyFirst(sql.type(idRow)`
    SELECT s.id::text AS id FROM ${db.t.subnet} s WHERE s.id = ANY(${sql.array([...subnetIds.values()], "int4")}) ORDER BY s.id LIMIT 20
  `);
  if (takenSubnets.length > 0) throw new SnapshotConflictError("subnets.id", `subnet ids ${TAKEN_ADVICE}`, takenSubnets);
}

/** @throws OverlapError for the first top-level subnet of the file that overlaps one of its namespace in the target */
export async function refuseOverlappingRoots(db: BoundConnection, subnets: readonly ValidatedSubnet[]): Promise<void> {
  const roots = subnets.filter((subnet) => subnet.record.parentId === null);
  if (roots.length === 0) return;
  const clash = await db.maybeOne(sql.type(conflictRow)`
    SELECT i.position::text AS position, s.id || ' (' || s.cidr::text || ')' AS existing
    FROM unnest(${sql.array(roots.map((s) => s.record.namespace), "text")}, ${sql.array(roots.map((s) => s.layout.cidr.text), "cidr")})
         WITH ORDINALITY AS i(namespace, cidr, position)
    JOIN ${db.t.namespace} n ON n.name = i.namespace
    JOIN ${db.t.subnet} s ON s.namespace_id = n.id AND s.parent_id IS NULL AND s.cidr && i.cidr
    ORDER BY i.position, s.id LIMIT 1
  `);
  if (clash !== null) {
    const subnet = roots[Number(clash.position) - 1]!;
    throw new OverlapError(subnet.layout.cidr.text, subnet.record.namespace, clash.existing);
  }
}

/**
 * The one import at a time: taken without waiting, so a second import is refused at once rather
 * than queued behind one that may run for minutes.
 * @throws SnapshotConflictError when another import holds it
 */
export async function takeImportLock(db: BoundConnection): Promise<void> {
  const taken = await db.oneFirst(sql.type(z.object({ taken: z.boolean() }))`SELECT pg_try_advisory_xact_lock(${IPAM_LOCK_CLASS}, ${IMPORT_LOCK_KEY}) AS taken`);
  if (!taken) throw new SnapshotConflictError("snapshot", "another import is running into this database; nothing was imported, retry once it has finished", []);
}

/** Namespace ids by name, so each namespace is upserted once per import, not once per subnet. */
export type NamespaceIds = Map<string, number>;

async function insertSubnetRow(db: BoundConnection, namespaces: NamespaceIds, id: number, parentId: number | null, subnet: ValidatedSubnet): Promise<void> {
  const { record, layout } = subnet;
  let namespaceId = namespaces.get(record.namespace);
  if (namespaceId === undefined) namespaces.set(record.namespace, (namespaceId = await upsertNamespace(db, record.namespace)));
  await db.query(sql.unsafe`
    INSERT INTO ${db.t.subnet} (id, namespace_id, parent_id, cidr, gateway, pools, pools_explicit, reserved, description, tags,
                             children_only, min_prefix_length, max_prefix_length, default_prefix_length, release_hold_seconds, idempotency_key, created_at, updated_at)
    OVERRIDING SYSTEM VALUE
    VALUES (${id}, ${namespaceId}, ${parentId}, ${layout.cidr.text}::cidr, ${layout.gateway?.text ?? null}::inet,
            ${sql.jsonb(layout.pools.map((pool) => ({ start: pool.start, end: pool.end })))}, ${layout.poolsExplicit},
            ${sql.jsonb(layout.reserved.map((range) => range.text))}, ${record.description}, ${sql.jsonb(record.tags)},
            ${record.childrenOnly ?? false}, ${record.minPrefixLength ?? null}, ${record.maxPrefixLength ?? null},
            ${record.defaultPrefixLength ?? null}, ${record.releaseHoldSeconds ?? 0}, ${record.idempotencyKey ?? null},
            coalesce(${record.createdAt ?? null}::timestamptz, now()), coalesce(${record.updatedAt ?? null}::timestamptz, now()))
  `);
}

/** `onProgress` called with the running count of records written, out of `total`. */
export function progressCounter(total: number, options: Pick<ImportOptions, "onProgress">): (step: number) => void {
  let done = 0;
  return (step) => {
    done += step;
    options.onProgress?.(done, total);
  };
}

/**
 * Write one subnet of the file under its target id (parents come first), the audit triggers told
 * it is an import of its source id (they write subnet.import, and allocation.import for what follows).
 * @returns the target id
 */
export async function insertImportedSubnet(db: BoundConnection, namespaces: NamespaceIds, subnetIds: ReadonlyMap<string, string>, subnet: ValidatedSubnet): Promise<number> {
  const id = Number(subnetIds.get(subnet.record.id));
  const parentId = subnet.record.parentId === null ? null : Number(subnetIds.get(subnet.record.parentId));
  await auditHint(db, { action: "import", sourceId: subnet.record.id });
  await insertSubnetRow(db, namespaces, id, parentId, subnet);
  return id;
}

/**
 * The import's tail (both entry paths), once every subnet and allocation is in: the holds, then each
 * subnet's free ranges, which leave its children's blocks, held addresses and held blocks out.
 */
export async function writeHoldsAndFreeSpace(
  db: BoundConnection,
  checked: Pick<ValidatedSnapshot, "subnets" | "holds" | "blockHolds">,
  subnetIds: ReadonlyMap<string, string>,
): Promise<void> {
  const target = (sourceId: string) => Number(subnetIds.get(sourceId));
  for (const subnet of checked.subnets) await insertHolds(db, target(subnet.record.id), checked.holds.get(subnet.record.id) ?? []);
  for (const [parentId, blocks] of checked.blockHolds) await insertBlockHolds(db, target(parentId), blocks.all());
  for (const subnet of checked.subnets) await rebuildFreeRanges(db, target(subnet.record.id));
}

/** Holds still live in this database's clock; an expired one is simply free space. */
async function insertHolds(db: BoundConnection, subnetId: number, holds: readonly ValidatedHold[]): Promise<void> {
  if (holds.length === 0) return;
  const column = (pick: (hold: ValidatedHold) => string) => sql.array(holds.map(pick), "text");
  await db.query(sql.unsafe`
    INSERT INTO ${db.t.heldAddress} (subnet_id, ordinal, address, held_until, owner, allocation_id)
    SELECT ${subnetId}, r.ordinal::numeric, r.address::inet, r.until::timestamptz, r.owner, r.allocation::bigint
    FROM unnest(${column((h) => h.address.value.toString())}, ${column((h) => h.address.text)}, ${column((h) => h.heldUntil)},
                ${column((h) => h.owner)}, ${column((h) => h.allocationId)}) AS r(ordinal, address, until, owner, allocation)
    WHERE r.until::timestamptz > now()
  `);
}

/**
 * Held child blocks still live in this database's clock, before the parents' free ranges are
 * derived (the derivations leave them out). The block's guard (0014) lets an import write them.
 */
async function insertBlockHolds(db: BoundConnection, parentId: number, blocks: readonly ValidatedBlockHold[]): Promise<void> {
  if (blocks.length === 0) return;
  const column = (pick: (block: ValidatedBlockHold) => string | null) => sql.array(blocks.map(pick), "text");
  await db.query(sql.unsafe`
    INSERT INTO ${db.t.heldBlock} (parent_id, cidr, first_ordinal, last_ordinal, held_until, child_id, child_key)
    SELECT ${parentId}, r.cidr::cidr, r.first::numeric, r.last::numeric, r.until::timestamptz, r.child::integer, r.child_key
    FROM unnest(${column((b) => b.cidr.text)}, ${column((b) => b.cidr.first.toString())}, ${column((b) => b.cidr.last.toString())},
                ${column((b) => b.heldUntil)}, ${column((b) => b.childId)}, ${column((b) => b.childKey)}) AS r(cidr, first, last, until, child, child_key)
    WHERE r.until::timestamptz > now()
  `);
}

/** Insert allocations and their addresses (the audit trigger logs each); returns how many addresses. */
async function insertAllocations(
  db: BoundConnection,
  subnetId: number,
  subnet: ValidatedSubnet,
  allocations: readonly ValidatedAllocation[],
  allocationIds: ReadonlyMap<string, string>,
): Promise<number> {
  const target = (allocation: ValidatedAllocation) => allocationIds.get(allocation.record.id)!;
  const column = <T extends string | null>(pick: (allocation: ValidatedAllocation) => T) => sql.array(allocations.map(pick), "text");
  await db.query(sql.unsafe`
    INSERT INTO ${db.t.allocation} (id, subnet_id, owner, idempotency_key, strategy, requested_address, description, tags, created_at, updated_at)
    OVERRIDING SYSTEM VALUE
    SELECT r.id::bigint, ${subnetId}, r.owner, r.key, r.strategy, r.requested::inet, r.description, r.tags::jsonb,
           coalesce(r.created::timestamptz, now()), coalesce(r.updated::timestamptz, now())
    FROM unnest(${column(target)}, ${column((a) => a.record.owner)}, ${column((a) => a.record.idempotencyKey)},
                ${column((a) => a.record.strategy)}, ${column((a) => (a.record.strategy === "specific" ? a.addresses[0]!.text : null))},
                ${column((a) => a.record.description)}, ${column((a) => JSON.stringify(a.record.tags))},
                ${column((a) => a.record.createdAt ?? null)}, ${column((a) => a.record.updatedAt ?? null)})
         AS r(id, owner, key, strategy, requested, description, tags, created, updated)
  `);
  const rows = allocations.flatMap((allocation) => allocation.addresses.map((address) => ({ allocation: target(allocation), address })));
  for (let start = 0; start < rows.length; start += ADDRESSES_PER_STATEMENT) {
    const chunk = rows.slice(start, start + ADDRESSES_PER_STATEMENT);
    await db.query(sql.unsafe`
      INSERT INTO ${db.t.allocatedAddress} (subnet_id, address, ordinal, allocation_id)
      SELECT ${subnetId}, r.address::inet, r.ordinal, r.allocation::bigint
      FROM unnest(${sql.array(chunk.map((row) => row.address.text), "text")}, ${sql.array(chunk.map((row) => row.address.value.toString()), "numeric")},
                  ${sql.array(chunk.map((row) => row.allocation), "text")}) AS r(address, ordinal, allocation)
    `);
  }
  return rows.length;
}

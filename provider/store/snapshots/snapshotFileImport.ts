import { sql, type DatabasePool } from "slonik";
import { parseAddressAfter, type IpAddress } from "../../core/address.js";
import { InvalidInputError, SnapshotConflictError } from "../../core/errors.js";
import { parseInput } from "../../core/schemas.js";
import { snapshotAllocationSchema, type SnapshotAllocation } from "../../core/snapshot.js";
import { wrapDatabaseError } from "../database/databaseErrors.js";
import type { Tables } from "../database/tables.js";
import { type BoundConnection, bindTables, inLockedTransaction, type TransactionSettings } from "../database/storeDatabase.js";
import { changedWhileRead, type CheckedSnapshotFile } from "./snapshotFileCheck.js";
import { readSnapshotFile } from "./snapshotFileReader.js";
import {
  advanceSequencesPast,
  idRow,
  importFailure,
  type ImportOptions,
  type ImportResult,
  insertImportedSubnet,
  type NamespaceIds,
  progressCounter,
  refuseOverlappingRoots,
  refuseTakenSubnetIds,
  refuseWithoutSequenceRights,
  writeHoldsAndFreeSpace,
  TAKEN_ADVICE,
  takeImportLock,
  targetIds,
} from "./snapshotImport.js";

/** Allocations written per statement (and held in memory at once): the window. */
const WINDOW_ALLOCATIONS = 2_000;
const ADDRESSES_PER_STATEMENT = 10_000;
/** Allocation ids looked up per conflict query. */
const IDS_PER_LOOKUP = 50_000;

interface Row {
  readonly record: SnapshotAllocation;
  readonly addresses: readonly IpAddress[];
}

/**
 * Import a checked snapshot file (issue 25): the same transaction, lock, checks and rows as
 * importSnapshot, but the allocations are read from the file a second time and written in windows
 * of 2,000 as they come, so memory holds one window, not the file. Rows are those of the whole-file
 * import; the audit events of allocations come in file order rather than subnet by subnet.
 * The file must read as it did when checked (its SHA-256): otherwise nothing is imported.
 * @throws SnapshotConflictError when ids are taken, OverlapError when a subnet overlaps an existing
 *   one, InvalidInputError (`file`) when the file changed since it was checked
 */
export async function importSnapshotFile(pool: DatabasePool, t: Tables, settings: TransactionSettings, file: CheckedSnapshotFile, options: ImportOptions): Promise<ImportResult> {
  const { checked } = file;
  let subnetIds: Map<string, string>;
  try {
    await refuseWithoutSequenceRights(pool, t, options.newIds);
    subnetIds = await targetIds(pool, t, "subnet", checked.subnets.map((s) => s.record.id), options.newIds);
  } catch (error) {
    throw wrapDatabaseError(error, "importing a snapshot");
  }
  const progress = progressCounter(checked.subnets.length + checked.allocations, options);
  try {
    return await inLockedTransaction(pool, [], settings, "importing a snapshot", async (raw) => {
      const tx = bindTables(raw, t);
      await takeImportLock(tx);
      if (!options.newIds) {
        let highestSubnet = 0n;
        for (const subnet of checked.subnets) if (BigInt(subnet.record.id) > highestSubnet) highestSubnet = BigInt(subnet.record.id);
        let highestAllocation = 0n;
        for (const id of checked.allocationIds) if (id > highestAllocation) highestAllocation = id;
        await advanceSequencesPast(tx, highestSubnet, highestAllocation);
      }
      await refuseTakenSubnetIds(tx, subnetIds);
      // Fresh ids come from the sequence, which no row has used: only kept ids can be taken.
      if (!options.newIds) await refuseTakenAllocationIds(tx, checked.allocationIds);
      await refuseOverlappingRoots(tx, checked.subnets);
      const namespaces: NamespaceIds = new Map();
      for (const subnet of checked.subnets) {
        await insertImportedSubnet(tx, namespaces, subnetIds, subnet);
        progress(1);
      }
      const addresses = await writeAllocations(tx, file, subnetIds, options, progress);
      await writeHoldsAndFreeSpace(tx, checked, subnetIds);
      return { subnets: checked.subnets.length, allocations: checked.allocations, addresses, subnetIds: Object.fromEntries(subnetIds) };
    });
  } catch (error) {
    if (error instanceof InvalidInputError) throw error;
    throw importFailure(error);
  }
}

/**
 * The allocation ids of the file already taken: the 20 lowest, as the whole-file import names them.
 * @throws SnapshotConflictError
 */
async function refuseTakenAllocationIds(db: BoundConnection, ids: BigInt64Array): Promise<void> {
  let taken: bigint[] = [];
  for (let start = 0; start < ids.length; start += IDS_PER_LOOKUP) {
    const chunk = Array.from(ids.subarray(start, start + IDS_PER_LOOKUP), String);
    const found = await db.anyFirst(sql.type(idRow)`
      SELECT a.id::text AS id FROM ${db.t.allocation} a WHERE a.id = ANY(${sql.array(chunk, "int8")}) ORDER BY a.id LIMIT 20
    `);
    taken = [...taken, ...found.map(BigInt)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).slice(0, 20);
  }
  if (taken.length > 0) throw new SnapshotConflictError("allocations.id", `allocation ids ${TAKEN_ADVICE}`, taken.map(String));
}

/** The second read: each allocation parsed again (canonical addresses), written a window at a time. */
async function writeAllocations(
  db: BoundConnection,
  file: CheckedSnapshotFile,
  subnetIds: ReadonlyMap<string, string>,
  options: ImportOptions,
  progress: (step: number) => void,
): Promise<number> {
  let pending: Row[] = [];
  let read = 0;
  let addresses = 0;
  const flush = async (all: boolean) => {
    while (pending.length >= WINDOW_ALLOCATIONS || (all && pending.length > 0)) {
      const window = pending.slice(0, WINDOW_ALLOCATIONS);
      pending = pending.slice(WINDOW_ALLOCATIONS);
      addresses += await insertWindow(db, window, subnetIds, options);
      progress(window.length);
    }
  };
  const again = await readSnapshotFile(file.path, file.name, {
    allocation: (raw, index) => {
      read += 1;
      pending.push(rowOf(raw, index, subnetIds, file.name));
    },
    drain: () => flush(false),
  });
  await flush(true);
  // Anything written from a file that changed since its check is rolled back with the transaction.
  if (again.digest !== file.digest || read !== file.checked.allocations) throw changedWhileRead(file.name);
  return addresses;
}

/** A record as checked: anything else means the file changed since (its digest is compared at the end too). */
function rowOf(raw: unknown, index: number, subnetIds: ReadonlyMap<string, string>, name: string): Row {
  let record: SnapshotAllocation;
  try {
    record = parseInput(snapshotAllocationSchema, raw, `allocations.${index}`);
  } catch {
    throw changedWhileRead(name);
  }
  if (!subnetIds.has(record.subnetId)) throw changedWhileRead(name);
  const addresses: IpAddress[] = [];
  let previous: IpAddress | null = null;
  try {
    for (const [place, text] of record.addresses.entries()) addresses.push((previous = parseAddressAfter(text, `allocations.${index}.addresses.${place}`, previous)));
  } catch {
    throw changedWhileRead(name);
  }
  addresses.sort((a, b) => (a.value < b.value ? -1 : 1));
  return { record, addresses };
}

/** One window: its allocations in one statement, their addresses in statements of up to 10,000 (the audit trigger logs each). */
async function insertWindow(db: BoundConnection, rows: readonly Row[], subnetIds: ReadonlyMap<string, string>, options: ImportOptions): Promise<number> {
  const targets = options.newIds ? await freshIds(db, rows.length) : rows.map((row) => row.record.id);
  if (options.newIds) await options.onAllocationIds?.(rows.map((row, i) => [row.record.id, targets[i]!] as const));
  const column = (pick: (row: Row, i: number) => string | null) => sql.array(rows.map(pick), "text");
  await db.query(sql.unsafe`
    INSERT INTO ${db.t.allocation} (id, subnet_id, owner, idempotency_key, strategy, requested_address, description, tags, created_at, updated_at)
    OVERRIDING SYSTEM VALUE
    SELECT r.id::bigint, r.subnet::int4, r.owner, r.key, r.strategy, r.requested::inet, r.description, r.tags::jsonb,
           coalesce(r.created::timestamptz, now()), coalesce(r.updated::timestamptz, now())
    FROM unnest(${column((_, i) => targets[i]!)}, ${column((row) => subnetIds.get(row.record.subnetId)!)}, ${column((row) => row.record.owner)},
                ${column((row) => row.record.idempotencyKey)}, ${column((row) => row.record.strategy)},
                ${column((row) => (row.record.strategy === "specific" ? row.addresses[0]!.text : null))},
                ${column((row) => row.record.description)}, ${column((row) => JSON.stringify(row.record.tags))},
                ${column((row) => row.record.createdAt ?? null)}, ${column((row) => row.record.updatedAt ?? null)})
         AS r(id, subnet, owner, key, strategy, requested, description, tags, created, updated)
  `);
  const cells = rows.flatMap((row, i) => row.addresses.map((address) => ({ subnet: subnetIds.get(row.record.subnetId)!, allocation: targets[i]!, address })));
  for (let start = 0; start < cells.length; start += ADDRESSES_PER_STATEMENT) {
    const chunk = cells.slice(start, start + ADDRESSES_PER_STATEMENT);
    await db.query(sql.unsafe`
      INSERT INTO ${db.t.allocatedAddress} (subnet_id, address, ordinal, allocation_id)
      SELECT r.subnet::int4, r.address::inet, r.ordinal, r.allocation::bigint
      FROM unnest(${sql.array(chunk.map((cell) => cell.subnet), "text")}, ${sql.array(chunk.map((cell) => cell.address.text), "text")},
                  ${sql.array(chunk.map((cell) => cell.address.value.toString()), "numeric")}, ${sql.array(chunk.map((cell) => cell.allocation), "text")})
           AS r(subnet, address, ordinal, allocation)
    `);
  }
  return cells.length;
}

/** New allocation ids for one window, drawn from the table's identity sequence. */
async function freshIds(db: BoundConnection, count: number): Promise<readonly string[]> {
  return db.anyFirst(sql.type(idRow)`
    SELECT nextval(pg_get_serial_sequence(${`${db.t.schema}.allocation`}, 'id'))::text AS id FROM generate_series(1, ${count})
  `);
}

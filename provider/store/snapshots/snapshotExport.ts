import { sql } from "slonik";
import { z } from "zod";
import { displayJson } from "../../core/displayText.js";
import { groupBy } from "../../core/groupBy.js";
import { SNAPSHOT_FORMAT, type Snapshot, type SnapshotAllocation, type SnapshotSubnet } from "../../core/snapshot.js";
import { LIMITS } from "../../core/schemas.js";
import type { Allocation, Subnet } from "../../core/types.js";
import { allocationFromRow, listAllocationRows } from "../rows/allocationQueries.js";
import { subnetFromRow } from "../rows/subnetRecords.js";
import { listSubnetRows } from "../rows/subnetQueries.js";
import { type BoundConnection } from "../database/storeDatabase.js";

/** Where a streamed export goes: resolves once the chunk is accepted (backpressure). */
export type SnapshotWrite = (chunk: string) => Promise<void>;

/**
 * Every subnet (of one namespace, or all) with all its allocations, in the versioned snapshot
 * format. Run it inside one consistent read so the file is a picture of a single moment.
 */
export async function readSnapshot(db: BoundConnection, filter: { namespace?: string | undefined }): Promise<Snapshot> {
  const subnets: SnapshotSubnet[] = [];
  const allocations: SnapshotAllocation[] = [];
  for await (const part of snapshotPages(db, filter, LIMITS.pageSize)) {
    if (part.kind === "subnets") subnets.push(...part.items);
    else allocations.push(...part.items);
  }
  return { format: SNAPSHOT_FORMAT, exportedAt: new Date().toISOString(), subnets, allocations };
}

/**
 * `readSnapshot` written out as it is read, a page at a time, so memory does not grow with the
 * number of allocations: the text is `displayJson(readSnapshot(...), 2)` (same keys, order and
 * indentation). Run it inside one consistent read.
 * @returns how many subnets and allocations were written
 */
export async function writeSnapshot(
  db: BoundConnection,
  filter: { namespace?: string | undefined },
  write: SnapshotWrite,
  pageSize: number = LIMITS.pageSize,
): Promise<{ subnets: number; allocations: number }> {
  await write(`{\n  "format": ${displayJson(SNAPSHOT_FORMAT)},\n  "exportedAt": ${displayJson(new Date().toISOString())}`);
  const counts = { subnets: 0, allocations: 0 };
  let open: "subnets" | "allocations" | null = null;
  for await (const part of snapshotPages(db, filter, pageSize)) {
    // JSON.stringify(value, null, 2) puts array items 4 deep: "[\n    item,\n    item\n  ]".
    const items = part.items.map((item: object) => `    ${displayJson(item, 2).replaceAll("\n", "\n    ")}`).join(",\n");
    await write(`${open === part.kind ? "," : `${closeArray(open)},\n  ${displayJson(part.kind)}: [`}\n${items}`);
    open = part.kind;
    counts[part.kind] += part.items.length;
  }
  const empty = (kind: "subnets" | "allocations") => (counts[kind] === 0 ? `,\n  ${displayJson(kind)}: []` : "");
  await write(`${closeArray(open)}${empty("subnets")}${empty("allocations")}\n}`);
  return counts;
}

function closeArray(open: string | null): string {
  return open === null ? "" : "\n  ]";
}

type SnapshotPage = { kind: "subnets"; items: SnapshotSubnet[] } | { kind: "allocations"; items: SnapshotAllocation[] };

/**
 * The snapshot as keyset pages: the subnets in (namespace, CIDR) order, then the allocations of
 * each subnet in that order, by id. Only subnet ids are held between the two passes.
 *
 * A bulk still being written a chunk at a time (pending_allocation) is left out: its request has not
 * succeeded, and on this database it is either completed or given back. Written out, it would come
 * back from an import as a complete allocation of part of its count that nothing ever reaps.
 */
async function* snapshotPages(db: BoundConnection, filter: { namespace?: string | undefined }, pageSize: number): AsyncGenerator<SnapshotPage> {
  const subnetIds: number[] = [];
  for (let after: number | undefined; ; ) {
    const page = await listSubnetRows(db, { namespace: filter.namespace }, { limit: pageSize, after });
    if (page.length > 0) {
      const ids = page.map((row) => row.id);
      const holds = await liveHolds(db, ids);
      const blocks = await liveBlockHolds(db, ids);
      yield { kind: "subnets", items: page.map((row) => snapshotSubnet(subnetFromRow(row), holds.get(row.id) ?? [], blocks.get(row.id) ?? [])) };
    }
    subnetIds.push(...page.map((row) => row.id));
    if (page.length < pageSize) break;
    after = page.at(-1)!.id;
  }
  for (const subnetId of subnetIds) {
    for (let after: string | undefined; ; ) {
      const page = await listAllocationRows(db, { subnetId, completeOnly: true }, pageSize, after);
      if (page.length > 0) yield { kind: "allocations", items: page.map((row) => snapshotAllocation(allocationFromRow(row))) };
      if (page.length < pageSize) break;
      after = page.at(-1)!.id;
    }
  }
}

/** A hold's end as the file writes it: UTC, microseconds, "Z". */
const HELD_UNTIL_TEXT = sql.fragment`to_char(held_until AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

type SnapshotHold = NonNullable<SnapshotSubnet["heldAddresses"]>[number];
const holdRow = z.object({ subnet_id: z.number(), address: z.string(), held_until: z.string(), owner: z.string(), allocation_id: z.string() });

/** Live holds (hold-down) of a page of subnets, by subnet id, in address order. */
async function liveHolds(db: BoundConnection, subnetIds: readonly number[]): Promise<Map<number, SnapshotHold[]>> {
  const rows = await db.any(sql.type(holdRow)`
    SELECT subnet_id, host(address) AS address, ${HELD_UNTIL_TEXT} AS held_until, owner, allocation_id::text AS allocation_id
    FROM ${db.t.heldAddress} WHERE subnet_id = ANY(${sql.array([...subnetIds], "int4")}) AND held_until > now() ORDER BY subnet_id, ordinal
  `);
  const bySubnet = groupBy(rows, (row) => row.subnet_id);
  return new Map([...bySubnet].map(([id, group]) => [id, group.map((row) => ({ address: row.address, heldUntil: row.held_until, owner: row.owner, allocationId: row.allocation_id }))]));
}

type SnapshotBlockHold = NonNullable<SnapshotSubnet["heldChildBlocks"]>[number];
const blockHoldRow = z.object({ parent_id: z.number(), cidr: z.string(), held_until: z.string(), child_id: z.number(), child_key: z.string().nullable() });

/** Live held child blocks (hold-down of released children) of a page of subnets, by parent id, in address order. */
async function liveBlockHolds(db: BoundConnection, subnetIds: readonly number[]): Promise<Map<number, SnapshotBlockHold[]>> {
  const rows = await db.any(sql.type(blockHoldRow)`
    SELECT parent_id, cidr::text AS cidr, ${HELD_UNTIL_TEXT} AS held_until, child_id, child_key
    FROM ${db.t.heldBlock} WHERE parent_id = ANY(${sql.array([...subnetIds], "int4")}) AND held_until > now() ORDER BY parent_id, first_ordinal
  `);
  const byParent = groupBy(rows, (row) => row.parent_id);
  return new Map([...byParent].map(([id, group]) => [id, group.map((row) => ({ cidr: row.cidr, heldUntil: row.held_until, childId: String(row.child_id), childKey: row.child_key }))]));
}

function snapshotSubnet(subnet: Subnet, holds: readonly SnapshotHold[], blocks: readonly SnapshotBlockHold[]): SnapshotSubnet {
  return {
    id: subnet.id,
    namespace: subnet.namespace,
    parentId: subnet.parentId,
    cidr: subnet.cidr,
    gateway: subnet.gateway,
    allocationPools: subnet.allocationPoolsExplicit ? subnet.allocationPools.map((pool) => ({ ...pool })) : null,
    reserved: [...subnet.reserved],
    description: subnet.description,
    tags: { ...subnet.tags },
    childrenOnly: subnet.childrenOnly,
    minPrefixLength: subnet.minPrefixLength,
    maxPrefixLength: subnet.maxPrefixLength,
    defaultPrefixLength: subnet.defaultPrefixLength,
    // Only when set, so a file without hold-downs reads as files of earlier releases did.
    ...(subnet.releaseHoldSeconds > 0 ? { releaseHoldSeconds: subnet.releaseHoldSeconds } : {}),
    ...(holds.length > 0 ? { heldAddresses: [...holds] } : {}),
    ...(blocks.length > 0 ? { heldChildBlocks: [...blocks] } : {}),
    idempotencyKey: subnet.idempotencyKey,
    createdAt: subnet.createdAt,
    updatedAt: subnet.updatedAt,
  };
}

function snapshotAllocation(allocation: Allocation): SnapshotAllocation {
  return {
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
  };
}

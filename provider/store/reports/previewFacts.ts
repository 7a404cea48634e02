import { sql } from "slonik";
import { z } from "zod";
import { formatAddress, parseAddress, parseCidr } from "../../core/address.js";
import { normalizeRanges, subtractRanges, runsOf, type ValueRange } from "../../core/range.js";
import type { AddressHold } from "../../core/addressForecast.js";
import type { SubnetLayout } from "../../core/subnetLayout.js";
import type { Subnet, SubnetUsage } from "../../core/types.js";
import { pickSequential } from "../allocations/addressPicker.js";
import { keptFromChildren } from "../children/childAllocator.js";
import { childCidrs } from "../children/childQueries.js";
import { inConsistentRead } from "../database/storeDatabase.js";
import { wrapDatabaseError } from "../database/databaseErrors.js";
import { createDatabasePool } from "../database/databasePool.js";
import { bindTables, type BoundConnection } from "../database/storeDatabase.js";
import { tablesFor } from "../database/tables.js";
import { getSubnetRow } from "../rows/subnetQueries.js";
import { ordinalTextRow } from "../rows/rowShapes.js";
import { layoutOf, subnetFromRow } from "../rows/subnetRecords.js";
import { readSubnetUsages } from "./subnetUsage.js";

/**
 * reports/: what `ipam preview-report` needs to know about the subnets a plan touches, read in ONE read-only
 * transaction (REPEATABLE READ, READ ONLY: the server refuses any write, and every figure comes from
 * one snapshot). It opens its own single-connection pool and never migrates, claims or locks.
 */

export interface FactsRequest {
  readonly subnetId: string;
  /** Addresses the plan may take sequentially: at least this many of the lowest free ones are read. */
  readonly demand: number;
  /** Addresses whose holders matter (specific requests, a new gateway or reserved range). */
  readonly addresses: readonly string[];
  /** Read every allocation (owners and addresses): for subnet edits, replacements and child space. */
  readonly allocations: boolean;
}

export interface HeldAllocation {
  readonly id: string;
  readonly owner: string;
  readonly addresses: readonly string[];
  readonly values: readonly bigint[];
}

export interface SubnetFacts {
  readonly subnet: Subnet;
  readonly layout: SubnetLayout;
  readonly usage: SubnetUsage;
  /**
   * The lowest free ranges, ascending, covering at least the demand (when there is that much),
   * expired holds included: the allocator returns those to the free space before its next pick.
   */
  readonly free: readonly ValueRange[];
  /** Free addresses in all: `usage.free` plus the expired holds the next pick returns first. */
  readonly freeTotal: bigint;
  /** Owner of each asked-for address that is held. */
  readonly holders: ReadonlyMap<string, string>;
  /** Live hold-down on each asked-for address that is in one (released, not free yet). */
  readonly holds: ReadonlyMap<string, AddressHold>;
  /** Every allocation in the subnet, when asked for (at most ALLOCATION_LIMIT, then `truncated`). */
  readonly allocations: readonly HeldAllocation[];
  readonly truncated: boolean;
  /** Addresses in a live hold-down (when allocations were read): an in-place edit keeps or drops them. */
  readonly heldValues: readonly bigint[];
  /** The CIDR minus gateway, reserved, children and directly allocated addresses (when allocations were read). */
  readonly childSpace: readonly ValueRange[];
}

const ALLOCATION_LIMIT = 10_000;

const heldRow = z.object({ id: z.string(), owner: z.string(), ordinals: z.array(z.string()) });
const holderRow = z.object({ address: z.string(), owner: z.string() });
const holdRow = z.object({ address: z.string(), owner: z.string(), seconds_left: z.number() });
const expiredRow = z.object({ total: z.string(), lowest: z.array(z.string()) });

/**
 * @returns facts by subnet id; a subnet that does not exist is absent from the map.
 * @throws DatabaseUnavailableError, DatabaseError (never with the connection string)
 */
export async function readPreviewFacts(databaseUrl: string, schema: string, requests: readonly FactsRequest[]): Promise<Map<string, SubnetFacts>> {
  const t = tablesFor(schema);
  const pool = await createDatabasePool(databaseUrl, { maxConnections: 1 });
  try {
    return await inConsistentRead(pool, { lockTimeoutMs: 10_000, statementTimeoutMs: 60_000 }, async (tx) => {
      const out = new Map<string, SubnetFacts>();
      for (const request of requests) {
        const facts = await readOne(bindTables(tx, t), request);
        if (facts !== null) out.set(request.subnetId, facts);
      }
      return out;
    });
  } catch (error) {
    throw wrapDatabaseError(error, "reading the subnets a preview touches");
  } finally {
    await pool.end();
  }
}

async function readOne(db: BoundConnection, request: FactsRequest): Promise<SubnetFacts | null> {
  if (!/^[0-9]{1,9}$/.test(request.subnetId)) return null;
  const id = Number(request.subnetId);
  const row = await getSubnetRow(db, id);
  if (row === null) return null;
  const layout = layoutOf(row);
  const [usage] = await readSubnetUsages(db, [row]);
  const expired = await expiredHolds(db, id, request.demand);
  const free = lowest(normalizeRanges([...(await lowestFree(db, id, request.demand, BigInt(usage!.free))), ...runsOf(expired.lowest)]), request.demand);
  const freeTotal = BigInt(usage!.free) + expired.total;
  const holders = await holdersOf(db, id, request.addresses);
  const holds = await holdsOn(db, id, request.addresses);
  let allocations: HeldAllocation[] = [];
  let childSpace: ValueRange[] = [];
  if (request.allocations) {
    const rows = await db.any(sql.type(heldRow)`
      SELECT a.id::text AS id, a.owner,
             ARRAY(SELECT ordinal::text FROM ${db.t.allocatedAddress} x WHERE x.allocation_id = a.id ORDER BY x.ordinal) AS ordinals
      FROM ${db.t.allocation} a WHERE a.subnet_id = ${id} ORDER BY a.id LIMIT ${ALLOCATION_LIMIT + 1}
    `);
    allocations = rows.slice(0, ALLOCATION_LIMIT).map((r) => {
      const values = r.ordinals.map((o) => BigInt(o));
      return { id: r.id, owner: r.owner, values, addresses: values.map((v) => formatAddress(layout.cidr.version, v)) };
    });
    const children = (await childCidrs(db, id)).map((c) => parseCidr(c, "cidr"));
    const own = runsOf(allocations.flatMap((a) => a.values).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    childSpace = subtractRanges([layout.cidr], [...keptFromChildren(layout), ...children, ...own]);
    const heldValues = (
      await db.anyFirst(sql.type(ordinalTextRow)`
        SELECT h.ordinal::text AS ordinal FROM ${db.t.heldAddress} h WHERE h.subnet_id = ${id} AND h.held_until > now() ORDER BY h.ordinal LIMIT ${ALLOCATION_LIMIT + 1}
      `)
    ).map((ordinal) => BigInt(ordinal));
    const truncated = rows.length > ALLOCATION_LIMIT || heldValues.length > ALLOCATION_LIMIT;
    return { subnet: subnetFromRow(row, layout), layout, usage: usage!, free, freeTotal, holders, holds, allocations, truncated, heldValues: heldValues.slice(0, ALLOCATION_LIMIT), childSpace };
  }
  return { subnet: subnetFromRow(row, layout), layout, usage: usage!, free, freeTotal, holders, holds, allocations, truncated: false, heldValues: [], childSpace };
}

/** The lowest free ranges covering `demand` addresses (or all there are): the allocator's own sequential pick, read only. */
async function lowestFree(db: BoundConnection, subnetId: number, demand: number, free: bigint): Promise<readonly ValueRange[]> {
  const count = BigInt(demand) < free ? demand : Number(free);
  return count === 0 ? [] : (await pickSequential(db, subnetId, count)).touched;
}

/** The lowest `count` values of ascending ranges: beyond them one of the two sources may have skipped some. */
function lowest(ranges: readonly ValueRange[], count: number): ValueRange[] {
  const out: ValueRange[] = [];
  let left = BigInt(count);
  for (const range of ranges) {
    if (left <= 0n) break;
    const last = range.last - range.first + 1n > left ? range.first + left - 1n : range.last;
    out.push({ first: range.first, last });
    left -= last - range.first + 1n;
  }
  return out;
}

/**
 * Holds past `held_until` that no pick has returned yet (return_expired_holds runs under the subnet's
 * lock, which a read-only preview never takes): how many, and the lowest `demand` of them.
 */
async function expiredHolds(db: BoundConnection, subnetId: number, demand: number): Promise<{ total: bigint; lowest: bigint[] }> {
  const row = await db.one(sql.type(expiredRow)`
    SELECT (SELECT count(*) FROM ${db.t.heldAddress} WHERE subnet_id = ${subnetId} AND held_until <= now())::text AS total,
           ARRAY(SELECT ordinal::text FROM ${db.t.heldAddress} WHERE subnet_id = ${subnetId} AND held_until <= now() ORDER BY ordinal LIMIT ${demand}) AS lowest
  `);
  return { total: BigInt(row.total), lowest: row.lowest.map((o) => BigInt(o)) };
}

/** Live holds (hold-down) on the asked-for addresses: who released each and how long is left. */
async function holdsOn(db: BoundConnection, subnetId: number, addresses: readonly string[]): Promise<Map<string, AddressHold>> {
  if (addresses.length === 0) return new Map();
  const rows = await db.any(sql.type(holdRow)`
    SELECT host(address) AS address, owner, ceil(extract(epoch FROM held_until - now()))::int AS seconds_left
    FROM ${db.t.heldAddress} WHERE subnet_id = ${subnetId} AND address = ANY(${sql.array([...addresses], "inet")}) AND held_until > now()
  `);
  return new Map(rows.map((r) => [parseAddress(r.address, "address").text, { owner: r.owner, secondsLeft: r.seconds_left }]));
}

async function holdersOf(db: BoundConnection, subnetId: number, addresses: readonly string[]): Promise<Map<string, string>> {
  if (addresses.length === 0) return new Map();
  const rows = await db.any(sql.type(holderRow)`
    SELECT host(x.address) AS address, a.owner
    FROM ${db.t.allocatedAddress} x JOIN ${db.t.allocation} a ON a.id = x.allocation_id
    WHERE x.subnet_id = ${subnetId} AND x.address = ANY(${sql.array([...addresses], "inet")})
  `);
  return new Map(rows.map((r) => [parseAddress(r.address, "address").text, r.owner]));
}

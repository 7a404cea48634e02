import { sql } from "slonik";
import { z } from "zod";
import { ADDRESS_BITS } from "../../core/address.js";
import type { SubnetLayout } from "../../core/subnetLayout.js";
import type { Subnet } from "../../core/types.js";
import { outsidePoolsCondition, type OwnerUsage } from "./usageQueries.js";
import { type BoundConnection } from "../database/storeDatabase.js";

export interface SubnetMapData {
  readonly subnet: Subnet;
  readonly grid: MapGrid;
  readonly cells: readonly MapCellHolding[];
  readonly owners: readonly OwnerUsage[];
  /** Cells held by child subnets (read in the same snapshot as `cells`), lowest first. */
  readonly childBlocks: readonly MapChildBlock[];
  /** Cells with addresses in hold-down after release (issue 23), lowest first. */
  readonly heldCells: readonly MapHeldCell[];
  /** Cells covered by child prefixes held after their child's delete (migration 0014), lowest first. */
  readonly heldBlocks: readonly MapHeldBlock[];
}

/** At most 2^14 cells: a picture, not a table of every address. */
export const mapCellBitsSchema = z.number().int().min(0, { error: "must be at least 0" }).max(14, { error: "must be at most 14 (16,384 cells)" });

/**
 * A subnet cut into at most 2^`maxCellBits` equal cells of 2^`cellBits` addresses each: one cell
 * per address for small subnets, aggregated blocks for large ones (an IPv6 /64 still fits a screen).
 */
export interface MapGrid {
  readonly cellBits: number;
  readonly cellCount: number;
}

export function mapGrid(layout: SubnetLayout, maxCellBits: number): MapGrid {
  const hostBits = ADDRESS_BITS[layout.cidr.version] - layout.cidr.prefixLength;
  const cellBits = Math.max(0, hostBits - maxCellBits);
  return { cellBits, cellCount: 2 ** (hostBits - cellBits) };
}

/** The allocated part of one cell; cells without allocations are absent. */
export interface MapCellHolding {
  readonly cell: number;
  /** The owner holding most addresses of the cell (ties: the first by name). */
  readonly owner: string;
  readonly ownerAddresses: string;
  readonly allocated: string;
  /** Allocated addresses of the cell that lie outside the pools. */
  readonly outsidePool: string;
  readonly owners: number;
}

const cellRow = z.object({
  cell: z.string(),
  owner: z.string(),
  owner_addresses: z.string(),
  allocated: z.string(),
  outside_pool: z.string(),
  owners: z.number(),
});

/** Per cell: how many addresses are allocated, to whom mostly, and how many outside the pools. */
export async function readMapCells(db: BoundConnection, subnetId: number, layout: SubnetLayout, grid: MapGrid): Promise<MapCellHolding[]> {
  const cellSize = (1n << BigInt(grid.cellBits)).toString();
  const rows = await db.any(sql.type(cellRow)`
    WITH held AS (
      SELECT div(x.ordinal - ${layout.cidr.first.toString()}::numeric, ${cellSize}::numeric) AS cell, a.owner,
             ${outsidePoolsCondition(layout)} AS outside
      FROM ${db.t.allocatedAddress} x JOIN ${db.t.allocation} a ON a.id = x.allocation_id
      WHERE x.subnet_id = ${subnetId}
    ),
    per_owner AS (
      SELECT cell, owner, count(*) AS n, count(*) FILTER (WHERE outside) AS outside FROM held GROUP BY cell, owner
    )
    SELECT cell::text AS cell, (array_agg(owner ORDER BY n DESC, owner))[1] AS owner, max(n)::text AS owner_addresses,
           sum(n)::text AS allocated, sum(outside)::text AS outside_pool, count(*)::int AS owners
    FROM per_owner GROUP BY per_owner.cell ORDER BY per_owner.cell
  `);
  return rows.map((row) => ({
    cell: Number(row.cell),
    owner: row.owner,
    ownerAddresses: row.owner_addresses,
    allocated: row.allocated,
    outsidePool: row.outside_pool,
    owners: row.owners,
  }));
}

/**
 * Cells `firstCell`..`lastCell` held by child subnets. Children are aligned blocks, so a child at
 * least as large as a cell covers whole cells (one block per child), and smaller children never
 * cross a cell boundary (one block per cell, `children` of them).
 */
export interface MapChildBlock {
  readonly firstCell: number;
  readonly lastCell: number;
  readonly children: number;
  /** Addresses of these cells covered by the children. */
  readonly addresses: string;
  /** The lowest child of the block. */
  readonly subnetId: string;
  readonly cidr: string;
}

const childBlockRow = z.object({
  first_cell: z.string(),
  last_cell: z.string(),
  children: z.number(),
  addresses: z.string(),
  subnet_id: z.number(),
  cidr: z.string(),
});

/** The cells each child of the subnet covers: one row per block, never per address (a /48 of /64s is 2^14 rows at most). */
export async function readMapChildBlocks(db: BoundConnection, subnetId: number, layout: SubnetLayout, grid: MapGrid): Promise<MapChildBlock[]> {
  const cellSize = (1n << BigInt(grid.cellBits)).toString();
  const first = layout.cidr.first.toString();
  const rows = await db.any(sql.type(childBlockRow)`
    WITH child AS (
      SELECT id, cidr, ${db.t.inetToOrdinal}(network(cidr)) AS lo, ${db.t.inetToOrdinal}(broadcast(cidr)) AS hi
      FROM ${db.t.subnet} WHERE parent_id = ${subnetId}
    )
    SELECT div(lo - ${first}::numeric, ${cellSize}::numeric)::text AS first_cell, div(hi - ${first}::numeric, ${cellSize}::numeric)::text AS last_cell,
           count(*)::int AS children, sum(hi - lo + 1)::text AS addresses,
           (array_agg(id ORDER BY cidr))[1] AS subnet_id, (array_agg(cidr::text ORDER BY cidr))[1] AS cidr
    FROM child GROUP BY 1, 2 ORDER BY min(lo)
  `);
  return rows.map((row) => ({
    firstCell: Number(row.first_cell),
    lastCell: Number(row.last_cell),
    children: row.children,
    addresses: row.addresses,
    subnetId: String(row.subnet_id),
    cidr: row.cidr,
  }));
}

/** Addresses of one cell released and still held back (hold-down), and when the last hold ends. */
export interface MapHeldCell {
  readonly cell: number;
  readonly held: string;
  /** Seconds until the cell's last hold expires (the database's clock). */
  readonly secondsLeft: number;
}

const heldCellRow = z.object({ cell: z.string(), held: z.string(), seconds_left: z.number() });

/** Per cell, the live holds (expired ones are free space waiting for the next pick to return them). */
export async function readMapHeldCells(db: BoundConnection, subnetId: number, layout: SubnetLayout, grid: MapGrid): Promise<MapHeldCell[]> {
  const cellSize = (1n << BigInt(grid.cellBits)).toString();
  const rows = await db.any(sql.type(heldCellRow)`
    SELECT h.cell::text AS cell, count(*)::text AS held, ceil(extract(epoch FROM max(h.held_until) - now()))::int AS seconds_left
    FROM (
      SELECT div(ordinal - ${layout.cidr.first.toString()}::numeric, ${cellSize}::numeric) AS cell, held_until
      FROM ${db.t.heldAddress} WHERE subnet_id = ${subnetId} AND held_until > now()
    ) AS h
    GROUP BY h.cell ORDER BY h.cell
  `);
  return rows.map((row) => ({ cell: Number(row.cell), held: row.held, secondsLeft: row.seconds_left }));
}

/** A child prefix held after its child's delete: the cells it covers, and when its hold ends. */
export interface MapHeldBlock {
  readonly firstCell: number;
  readonly lastCell: number;
  readonly cidr: string;
  /** The child that released it (gone). */
  readonly childId: string;
  readonly secondsLeft: number;
}

const heldBlockRow = z.object({ first_cell: z.string(), last_cell: z.string(), cidr: z.string(), child_id: z.number(), seconds_left: z.number() });

/** The live held blocks of the subnet (an expired one is free space waiting for the next pick or carve to return it). */
export async function readMapHeldBlocks(db: BoundConnection, subnetId: number, layout: SubnetLayout, grid: MapGrid): Promise<MapHeldBlock[]> {
  const cellSize = (1n << BigInt(grid.cellBits)).toString();
  const first = layout.cidr.first.toString();
  const rows = await db.any(sql.type(heldBlockRow)`
    SELECT div(first_ordinal - ${first}::numeric, ${cellSize}::numeric)::text AS first_cell, div(last_ordinal - ${first}::numeric, ${cellSize}::numeric)::text AS last_cell,
           cidr::text AS cidr, child_id, ceil(extract(epoch FROM held_until - now()))::int AS seconds_left
    FROM ${db.t.heldBlock} WHERE parent_id = ${subnetId} AND held_until > now() ORDER BY first_ordinal
  `);
  return rows.map((row) => ({ firstCell: Number(row.first_cell), lastCell: Number(row.last_cell), cidr: row.cidr, childId: String(row.child_id), secondsLeft: row.seconds_left }));
}

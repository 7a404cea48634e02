import { sql } from "slonik";
import { z } from "zod";
import { cidrOf, type Cidr } from "../../core/address.js";
import { blockContains, blockSize } from "../../core/prefixBlocks.js";
import type { ValueRange } from "../../core/range.js";
import { type BoundConnection } from "../database/storeDatabase.js";
import { ordinalTextRow } from "../rows/rowShapes.js";

/**
 * A parent's free space for children as maximal aligned free blocks (table free_block, see
 * migration 0002). Every function runs inside the parent's lock.
 */

const blockRow = z.object({ first_ordinal: z.string(), prefix_length: z.number() });
const candidateRow = z.object({ first_ordinal: z.string(), prefix_length: z.number(), pick: z.string(), blocker: z.string().nullable() });
const text = (value: bigint) => value.toString();

function blockOf(parent: Cidr, row: z.infer<typeof blockRow>): Cidr {
  return cidrOf(parent.version, BigInt(row.first_ordinal), row.prefix_length);
}

/**
 * Replace a parent's free blocks with the maximal aligned blocks of its CIDR minus its children,
 * gateway and reserved entries, and mark them built. The database derives them (migration 0012):
 * the store's role cannot write free_block.
 */
export async function rebuildFreeBlocks(db: BoundConnection, parentId: number): Promise<void> {
  await db.query(sql.unsafe`SELECT ${sql.identifier([db.t.schema, "rebuild_free_blocks"])}(${parentId})`);
}

export interface Candidate {
  /** The free block the candidate lies in. */
  readonly block: Cidr;
  readonly child: Cidr;
  /** The highest address allocated directly in the parent inside `child`; null when `child` is clear. */
  readonly blocker: bigint | null;
}

/**
 * First fit: the lowest aligned /`length` at or after `cursor` (aligned to /`length`) lying in a
 * free block. One probe for the block holding `cursor` and one per prefix length from the
 * parent's to `length` (never a scan over blocks of other sizes), then one probe of the parent's
 * own addresses inside the candidate.
 */
export async function firstFitCandidate(
  db: BoundConnection,
  parentId: number,
  parent: Cidr,
  length: number,
  cursor: bigint,
): Promise<Candidate | null> {
  const row = await db.maybeOne(sql.type(candidateRow)`
    WITH candidate AS MATERIALIZED (
      SELECT b.first_ordinal, b.prefix_length, greatest(b.first_ordinal, ${text(cursor)}::numeric) AS pick
      FROM (
        SELECT first_ordinal, prefix_length FROM (
          SELECT first_ordinal, last_ordinal, prefix_length FROM ${db.t.freeBlock}
          WHERE subnet_id = ${parentId} AND first_ordinal <= ${text(cursor)}::numeric ORDER BY first_ordinal DESC LIMIT 1
        ) AS holding
        WHERE last_ordinal >= ${text(cursor)}::numeric AND prefix_length <= ${length}
        UNION ALL
        SELECT f.first_ordinal, f.prefix_length
        FROM generate_series(${parent.prefixLength}::int, ${length}::int) AS l(len)
        CROSS JOIN LATERAL (
          SELECT first_ordinal, prefix_length FROM ${db.t.freeBlock}
          WHERE subnet_id = ${parentId} AND prefix_length = l.len AND first_ordinal > ${text(cursor)}::numeric
          ORDER BY first_ordinal LIMIT 1
        ) AS f
      ) AS b
      ORDER BY pick LIMIT 1
    )
    SELECT c.first_ordinal::text AS first_ordinal, c.prefix_length, c.pick::text AS pick,
           (SELECT a.ordinal::text FROM ${db.t.allocatedAddress} a
            WHERE a.subnet_id = ${parentId} AND a.ordinal BETWEEN c.pick AND c.pick + ${text(blockSize(parent.version, length) - 1n)}::numeric
            ORDER BY a.ordinal DESC LIMIT 1) AS blocker
    FROM candidate c
  `);
  if (row === null) return null;
  return {
    block: cidrOf(parent.version, BigInt(row.first_ordinal), row.prefix_length),
    child: cidrOf(parent.version, BigInt(row.pick), length),
    blocker: row.blocker === null ? null : BigInt(row.blocker),
  };
}

/**
 * Best fit: the free blocks that can hold a /`length`, smallest first (longest prefix), lowest
 * address among equals, one index probe per call. `after` is the previous block returned.
 */
export async function nextBestFitBlock(
  db: BoundConnection,
  parentId: number,
  parent: Cidr,
  length: number,
  after: Cidr | null,
): Promise<Cidr | null> {
  const afterLength = after?.prefixLength ?? length + 1;
  const afterFirst = after?.first ?? -1n;
  const row = await db.maybeOne(sql.type(blockRow)`
    SELECT first_ordinal::text AS first_ordinal, prefix_length FROM (
      (SELECT first_ordinal, prefix_length FROM ${db.t.freeBlock}
       WHERE subnet_id = ${parentId} AND prefix_length = ${afterLength} AND prefix_length <= ${length} AND first_ordinal > ${text(afterFirst)}::numeric
       ORDER BY first_ordinal LIMIT 1)
      UNION ALL
      (SELECT first_ordinal, prefix_length FROM ${db.t.freeBlock}
       WHERE subnet_id = ${parentId} AND prefix_length < ${afterLength} AND prefix_length <= ${length}
       ORDER BY prefix_length DESC, first_ordinal LIMIT 1)
    ) AS next_block
    ORDER BY next_block.prefix_length DESC, next_block.first_ordinal LIMIT 1
  `);
  return row === null ? null : blockOf(parent, row);
}

/** The highest address allocated directly in the parent inside `range`, or null. */
export async function highestAllocatedIn(db: BoundConnection, parentId: number, range: ValueRange): Promise<bigint | null> {
  const ordinal = await db.maybeOneFirst(sql.type(ordinalTextRow)`
    SELECT a.ordinal::text AS ordinal FROM ${db.t.allocatedAddress} a
    WHERE a.subnet_id = ${parentId} AND a.ordinal BETWEEN ${text(range.first)}::numeric AND ${text(range.last)}::numeric
    ORDER BY a.ordinal DESC LIMIT 1
  `);
  return ordinal === null ? null : BigInt(ordinal);
}

/** The free block that holds all of `wanted`, or null when some of it is not free. */
export async function freeBlockHolding(db: BoundConnection, parentId: number, parent: Cidr, wanted: Cidr): Promise<Cidr | null> {
  const row = await db.maybeOne(sql.type(blockRow)`
    SELECT f.first_ordinal::text AS first_ordinal, f.prefix_length FROM ${db.t.freeBlock} f
    WHERE f.subnet_id = ${parentId} AND f.first_ordinal <= ${text(wanted.first)}::numeric
    ORDER BY f.first_ordinal DESC LIMIT 1
  `);
  if (row === null) return null;
  const block = blockOf(parent, row);
  return blockContains(block, wanted) ? block : null;
}

import { sql, type DatabaseTransactionConnection } from "slonik";
import { z } from "zod";
import type { BenchContext } from "./benchContext.js";

const rangeRow = z.object({ first_ordinal: z.string(), last_ordinal: z.string() });
const countRow = z.object({ count: z.string() });
const idRow = z.object({ id: z.string() });

/**
 * Take the lowest `n` addresses of a subnet's lowest free range in bulk SQL: one allocation row,
 * `n` allocated_address rows (address = base + offset, inet arithmetic) and the free range's start
 * moved past them, as the allocator itself would leave it. Checks the row count it wrote.
 * @throws Error when the first free range is too short or the written count differs
 */
export async function fillSequential(context: BenchContext, subnetId: number, n: number): Promise<void> {
  if (n === 0) return;
  const { pool, t } = context;
  await pool.transaction(async (tx) => {
    const range = await tx.one(sql.type(rangeRow)`
      SELECT first_ordinal, last_ordinal FROM ${t.freeRange} WHERE subnet_id = ${subnetId} ORDER BY first_ordinal LIMIT 1
    `);
    const first = BigInt(range.first_ordinal);
    const last = BigInt(range.last_ordinal);
    if (last - first + 1n < BigInt(n)) throw new Error(`fill: first free range of subnet ${subnetId} holds fewer than ${n} addresses`);
    const id = await tx.oneFirst(sql.type(idRow)`
      INSERT INTO ${t.allocation} (subnet_id, owner, strategy, description) VALUES (${subnetId}, 'bench-fill', 'sequential', 'bulk fill')
      RETURNING id::text AS id
    `);
    await tx.query(sql.unsafe`
      INSERT INTO ${t.allocatedAddress} (subnet_id, address, ordinal, allocation_id)
      SELECT ${subnetId}, base.address + g, ${range.first_ordinal}::numeric + g, ${id}::bigint
      FROM (SELECT ${t.ordinalToInet}(${range.first_ordinal}::numeric, family(cidr)) AS address FROM ${t.subnet} WHERE id = ${subnetId}) base,
           generate_series(0::bigint, ${n - 1}::bigint) AS g
    `);
    if (last - first + 1n === BigInt(n)) {
      await tx.query(sql.unsafe`DELETE FROM ${t.freeRange} WHERE subnet_id = ${subnetId} AND first_ordinal = ${range.first_ordinal}::numeric`);
    } else {
      await tx.query(sql.unsafe`
        UPDATE ${t.freeRange} SET first_ordinal = first_ordinal + ${n} WHERE subnet_id = ${subnetId} AND first_ordinal = ${range.first_ordinal}::numeric
      `);
    }
    await verifyFill(tx, context, id, n, (first + BigInt(n) - 1n).toString());
  });
  await settle(context);
}

/**
 * After a bulk load, do the maintenance the server would otherwise start on its own in the middle
 * of the measurement (insert-triggered autovacuum of a table that just grew by up to a million
 * rows, and the checkpoint its WAL forces), so latencies measure allocation, not the load.
 */
async function settle(context: BenchContext): Promise<void> {
  const { pool, t } = context;
  await pool.query(sql.unsafe`VACUUM (ANALYZE) ${t.allocatedAddress}`);
  await pool.query(sql.unsafe`VACUUM (ANALYZE) ${t.allocation}`);
  await pool.query(sql.unsafe`VACUUM (ANALYZE) ${t.freeRange}`);
  try {
    await pool.query(sql.unsafe`CHECKPOINT`);
  } catch {
    // Needs superuser or pg_checkpoint; without it the server checkpoints on its own schedule.
    context.log("CHECKPOINT not permitted for this role: the checkpoint after the fill may land inside a measurement");
  }
}

async function verifyFill(tx: DatabaseTransactionConnection, context: BenchContext, id: string, n: number, lastOrdinal: string): Promise<void> {
  const { t } = context;
  const written = await tx.oneFirst(sql.type(countRow)`
    SELECT count(*)::text AS count FROM ${t.allocatedAddress} a JOIN ${t.subnet} s ON s.id = a.subnet_id
    WHERE a.allocation_id = ${id}::bigint
      AND (a.ordinal <> ${lastOrdinal}::numeric OR a.address = ${t.ordinalToInet}(a.ordinal, family(s.cidr)))
  `);
  if (written !== String(n)) throw new Error(`fill: wrote ${written} rows for ${n} addresses, or the last address does not match its ordinal`);
}

/**
 * Take a random `fraction` of a fresh subnet's single free range, scattered, so the free space is
 * many small runs (the hard case for random picks): allocated rows for the taken ordinals, and the
 * free ranges rebuilt as the maximal runs of the rest.
 * @returns how many addresses were taken
 */
export async function fillScattered(context: BenchContext, subnetId: number, fraction: number): Promise<number> {
  const { pool, t } = context;
  const taken = await pool.transaction(async (tx) => {
    const ranges = await tx.any(sql.type(rangeRow)`SELECT first_ordinal, last_ordinal FROM ${t.freeRange} WHERE subnet_id = ${subnetId}`);
    if (ranges.length !== 1) throw new Error(`fill: subnet ${subnetId} must have exactly one free range, has ${ranges.length}`);
    const range = ranges[0]!;
    await tx.query(sql.unsafe`
      CREATE TEMPORARY TABLE bench_pick ON COMMIT DROP AS
      SELECT g AS offset_, ${range.first_ordinal}::numeric + g AS ordinal, random() < ${fraction} AS taken
      FROM generate_series(0::bigint, (${range.last_ordinal}::numeric - ${range.first_ordinal}::numeric)::bigint) AS g
    `);
    const id = await tx.oneFirst(sql.type(idRow)`
      INSERT INTO ${t.allocation} (subnet_id, owner, strategy, description) VALUES (${subnetId}, 'bench-fill', 'random', 'bulk fill')
      RETURNING id::text AS id
    `);
    await tx.query(sql.unsafe`
      INSERT INTO ${t.allocatedAddress} (subnet_id, address, ordinal, allocation_id)
      SELECT ${subnetId}, base.address + p.offset_, p.ordinal, ${id}::bigint
      FROM (SELECT ${t.ordinalToInet}(${range.first_ordinal}::numeric, family(cidr)) AS address FROM ${t.subnet} WHERE id = ${subnetId}) base,
           bench_pick p WHERE p.taken
    `);
    await tx.query(sql.unsafe`DELETE FROM ${t.freeRange} WHERE subnet_id = ${subnetId}`);
    await tx.query(sql.unsafe`
      INSERT INTO ${t.freeRange} (subnet_id, first_ordinal, last_ordinal)
      SELECT ${subnetId}, min(ordinal), max(ordinal)
      FROM (SELECT ordinal, offset_ - row_number() OVER (ORDER BY offset_) AS island FROM bench_pick WHERE NOT taken) free
      GROUP BY island
    `);
    const count = await tx.oneFirst(sql.type(countRow)`SELECT count(*)::text AS count FROM ${t.allocatedAddress} WHERE allocation_id = ${id}::bigint`);
    const expected = await tx.oneFirst(sql.type(countRow)`SELECT count(*)::text AS count FROM bench_pick WHERE taken`);
    if (count !== expected) throw new Error(`fill: wrote ${count} rows, expected ${expected}`);
    return Number(count);
  });
  await settle(context);
  return taken;
}

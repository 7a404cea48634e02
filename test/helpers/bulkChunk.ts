import type pg from "pg";
import { sql, type DatabasePool, type DatabaseTransactionConnection } from "slonik";
import { allocateAddresses } from "../../provider/store/allocations/addressAllocator.js";
import { BULK_CHUNK } from "../../provider/store/allocations/bulkInChunks.js";
import { bindTables } from "../../provider/store/database/storeDatabase.js";
import { tablesFor } from "../../provider/store/database/tables.js";
import { getSubnetRow } from "../../provider/store/rows/subnetQueries.js";
import { layoutOf } from "../../provider/store/rows/subnetRecords.js";

/*
 * What the tests of a big bulk's chunk work (chunkWorkBounded, chunkSkipScan) share: a /64 planted
 * with spaced addresses straight in the tables (through the store a fill of 2^18 addresses takes
 * minutes), and one chunk of a random bulk run alone in a transaction with the database's own
 * counters read around it (pg_stat_*_xact: this transaction's counts, which no load changes).
 */

const t = tablesFor("ipam");

/**
 * In one transaction of `admin`: `rows` addresses `stride` apart from the IPv6 subnet's start (one
 * allocation each when `oneEach`, else one for all), then the free ranges between them.
 */
export async function plantSpacedAddresses(admin: pg.Client, subnetId: number, rows: number, stride: bigint, oneEach: boolean): Promise<void> {
  await admin.query("BEGIN");
  try {
    await admin.query("SET LOCAL search_path = ipam");
    await admin.query(
      `WITH owners AS (INSERT INTO allocation (subnet_id, owner, strategy)
                       SELECT $1, 'chunk/filler', 'random' FROM generate_series(1, CASE WHEN $4 THEN $3 ELSE 1 END) RETURNING id),
            numbered AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM owners),
            base AS (SELECT inet_to_ordinal(network(cidr)) AS b FROM subnet WHERE id = $1)
       INSERT INTO allocated_address (subnet_id, address, ordinal, allocation_id)
       SELECT $1, ordinal_to_inet(b + k * $2::numeric, 6), b + k * $2::numeric, numbered.id
       FROM base, generate_series(1, $3) AS k JOIN numbered ON numbered.n = CASE WHEN $4 THEN k ELSE 1 END`,
      [subnetId, stride.toString(), rows, oneEach],
    );
    await admin.query(
      `WITH span AS (DELETE FROM free_range WHERE subnet_id = $1 RETURNING first_ordinal AS lo, last_ordinal AS hi),
            edge AS (SELECT lo - 1 AS ordinal FROM span UNION ALL SELECT ordinal FROM allocated_address WHERE subnet_id = $1 UNION ALL SELECT hi + 1 FROM span)
       INSERT INTO free_range (subnet_id, first_ordinal, last_ordinal)
       SELECT $1, ordinal + 1, next - 1 FROM (SELECT ordinal, lead(ordinal) OVER (ORDER BY ordinal) AS next FROM edge) e WHERE next IS NOT NULL AND next > ordinal + 1`,
      [subnetId],
    );
    await admin.query("COMMIT");
  } catch (error) {
    await admin.query("ROLLBACK");
    throw error;
  }
}

/**
 * One chunk (BULK_CHUNK random addresses) of a bulk in `subnetId`, alone in a transaction bounded
 * at 120 s (a regression fails instead of hanging the run), and how each of `counts`' figures
 * changed across it (a session's unflushed counts of earlier transactions show too: the difference).
 */
export async function oneChunkCounted(
  pool: DatabasePool,
  subnetId: number,
  counts: (tx: DatabaseTransactionConnection) => Promise<ReadonlyMap<string, number>>,
): Promise<{ id: string; change: Record<string, number> }> {
  return pool.transaction(async (tx) => {
    await tx.query(sql.unsafe`SET LOCAL statement_timeout = '120s'`);
    const before = await counts(tx);
    const row = (await getSubnetRow(bindTables(tx, t), subnetId))!;
    const request = { subnetId: row.id, layout: layoutOf(row), owner: "chunk/bulk", idempotencyKey: null, strategy: "random" as const, address: null, count: BULK_CHUNK, description: "", tags: {} };
    const id = await allocateAddresses(bindTables(tx, t), request);
    const after = await counts(tx);
    return { id, change: Object.fromEntries([...after].map(([name, n]) => [name, n - (before.get(name) ?? 0)])) };
  });
}

import { sql, type DatabaseTransactionConnection } from "slonik";
import { z } from "zod";

const readRow = z.object({ table: z.string(), read: z.number() });

/**
 * Rows of these ipam tables the current transaction has read so far: sequential scans, heap
 * fetches and every index entry returned (index-only scans too), from pg_stat_xact_* (its own
 * counts, which no load on the machine changes). Take it before and after the work to count.
 */
export async function rowsRead(tx: DatabaseTransactionConnection, tables: readonly string[]): Promise<ReadonlyMap<string, number>> {
  const rows = await tx.any(sql.type(readRow)`
    SELECT c.relname AS "table",
           (coalesce(s.seq_tup_read, 0) + coalesce(s.idx_tup_fetch, 0)
            + coalesce((SELECT sum(pg_stat_get_xact_tuples_returned(i.indexrelid)) FROM pg_index i WHERE i.indrelid = c.oid), 0))::int AS read
    FROM pg_class c LEFT JOIN pg_stat_xact_user_tables s ON s.relid = c.oid
    WHERE c.relnamespace = 'ipam'::regnamespace AND c.relname = ANY(${sql.array([...tables], "text")})
  `);
  return new Map(rows.map((row) => [row.table, row.read]));
}

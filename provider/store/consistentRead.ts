import { sql, type DatabasePool, type DatabaseTransactionConnection } from "slonik";

/**
 * Run several reads against one snapshot of the database, so a report or an export never mixes
 * the state before and after a concurrent change (an allocation counted but its address missing).
 */
export async function inConsistentRead<T>(pool: DatabasePool, work: (tx: DatabaseTransactionConnection) => Promise<T>): Promise<T> {
  return pool.transaction(async (tx) => {
    await tx.query(sql.unsafe`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY`);
    return work(tx);
  });
}

import { sql, type DatabasePool, type DatabaseTransactionConnection } from "slonik";
import { timeoutsStatement, type TransactionSettings } from "./lockedTransaction.js";

/**
 * Run several reads against one snapshot of the database, so a report or an export never mixes
 * the state before and after a concurrent change (an allocation counted but its address missing).
 */
export async function inConsistentRead<T>(
  pool: DatabasePool,
  settings: Pick<TransactionSettings, "lockTimeoutMs" | "statementTimeoutMs">,
  work: (tx: DatabaseTransactionConnection) => Promise<T>,
): Promise<T> {
  return pool.transaction(async (tx) => {
    await tx.query(sql.unsafe`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY`);
    // After SET TRANSACTION (which must come first); bounds every read that follows.
    await tx.query(timeoutsStatement(settings));
    return work(tx);
  });
}

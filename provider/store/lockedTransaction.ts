import { sql, type DatabasePool, type DatabaseTransactionConnection } from "slonik";
import { z } from "zod";
import { wrapDatabaseError, sqlStateOf } from "./databaseErrors.js";
import { LockTimeoutError } from "../core/errors.js";
import { IPAM_LOCK_CLASS } from "./lockKeys.js";
import { withLockHolder } from "./lockHolder.js";

export interface TransactionSettings {
  /** How long to wait for a subnet's lock before giving up with LOCK_TIMEOUT. */
  readonly lockTimeoutMs: number;
  readonly statementTimeoutMs: number;
  /**
   * Test-only: skip the advisory lock, to show that the lock is what keeps concurrent requests
   * apart. Never set outside tests.
   */
  readonly unsafeSkipLocking?: boolean;
}

const voidRow = z.object({}).passthrough();

/**
 * Run `work` in one transaction holding every listed subnet's transaction-level advisory lock.
 * Locks are taken in ascending id order (a parent before its children, which are created later),
 * so two operations on the same pair never deadlock. The timeouts are SET LOCAL so they work
 * behind PgBouncer transaction pooling. `work` must read what it decides on AFTER this returns
 * control to it: a statement that started before the lock was granted sees an older snapshot.
 * @throws LockTimeoutError (naming the session holding the lock) when a lock is not granted in time; other failures via wrapDatabaseError
 */
export async function inLockedTransaction<T>(
  pool: DatabasePool,
  subnetIds: readonly number[],
  settings: TransactionSettings,
  doing: string,
  work: (tx: DatabaseTransactionConnection) => Promise<T>,
): Promise<T> {
  const ordered = [...new Set(subnetIds)].sort((a, b) => a - b);
  try {
    return await pool.transaction(async (tx) => {
      const settingsRow = sql.fragment`
        SELECT set_config('lock_timeout', ${String(settings.lockTimeoutMs)}, true) AS lock_timeout,
               set_config('statement_timeout', ${String(settings.statementTimeoutMs)}, true) AS statement_timeout
      `;
      const lockIds = settings.unsafeSkipLocking ? [] : ordered;
      if (lockIds.length === 0) await tx.query(sql.type(voidRow)`${settingsRow}`);
      for (const [index, id] of lockIds.entries()) {
        try {
          // The first lock rides on the statement that sets the timeouts: a subquery calling volatile
          // set_config() is never flattened, so the timeouts are in force before the lock wait starts.
          await tx.query(
            index === 0
              ? sql.type(voidRow)`SELECT pg_advisory_xact_lock(${IPAM_LOCK_CLASS}, ${id}) FROM (${settingsRow}) AS settings`
              : sql.type(voidRow)`SELECT pg_advisory_xact_lock(${IPAM_LOCK_CLASS}, ${id})`,
          );
        } catch (error) {
          if (sqlStateOf(error) === "55P03") throw new LockTimeoutError(String(id), error);
          throw error;
        }
      }
      return await work(tx);
    });
  } catch (error) {
    // Named after the rollback, on a fresh connection: an operator learns which session to end.
    if (error instanceof LockTimeoutError) throw await withLockHolder(pool, error);
    throw wrapDatabaseError(error, doing);
  }
}

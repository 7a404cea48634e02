import { sql, type DatabasePool, type DatabaseTransactionConnection } from "slonik";
import { z } from "zod";
import { failureOf, wrapDatabaseError } from "./databaseErrors.js";
import { LockTimeoutError, OutcomeUnknownError, RetryableDatabaseError } from "../../core/errors.js";
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
 * A connection lost while COMMIT was in flight leaves the outcome unknown: that is
 * OutcomeUnknownError, never "nothing was changed".
 * @throws LockTimeoutError (naming the session holding the lock) when a lock is not granted in time; OutcomeUnknownError; other failures via wrapDatabaseError
 */
export async function inLockedTransaction<T>(
  pool: DatabasePool,
  subnetIds: readonly number[],
  settings: TransactionSettings,
  doing: string,
  work: (tx: DatabaseTransactionConnection) => Promise<T>,
): Promise<T> {
  const ordered = [...new Set(subnetIds)].sort((a, b) => a - b);
  let committing = false;
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
          if (failureOf(error).kind === "lock-not-available") throw new LockTimeoutError(String(id), error);
          throw error;
        }
      }
      const result = await work(tx);
      committing = true;
      return result;
    });
  } catch (error) {
    // Named after the rollback, on a fresh connection: an operator learns which session to end.
    if (error instanceof LockTimeoutError) throw await withLockHolder(pool, error);
    throw committing ? commitFailure(error, doing) : wrapDatabaseError(error, doing);
  }
}

/**
 * A failure once the work was done and COMMIT was (about to be) sent. A server's answer (a
 * serialization failure at commit, say) means it rolled back; a lost connection means nobody
 * knows whether the COMMIT arrived.
 */
export function commitFailure(error: unknown, doing: string): Error {
  const wrapped = wrapDatabaseError(error, doing);
  if (wrapped instanceof RetryableDatabaseError && wrapped.transient === "connection-lost") return new OutcomeUnknownError(doing, error);
  return wrapped;
}

/**
 * The statement that makes `statementTimeoutMs` and `lockTimeoutMs` apply to the rest of the
 * transaction (SET LOCAL semantics: safe behind PgBouncer transaction pooling). A setting made
 * inside a statement does not bound that statement itself, so it must run before the work.
 */
export function timeoutsStatement(settings: Pick<TransactionSettings, "lockTimeoutMs" | "statementTimeoutMs">) {
  return sql.type(voidRow)`
    SELECT set_config('lock_timeout', ${String(settings.lockTimeoutMs)}, true) AS lock_timeout,
           set_config('statement_timeout', ${String(settings.statementTimeoutMs)}, true) AS statement_timeout
  `;
}

/**
 * Reads (one or several statements) in a short transaction whose first statement sets the
 * timeouts, so a slow read is cut off by statementTimeoutMs like every other statement.
 * @throws StatementTimeoutError; other failures via wrapDatabaseError
 */
export async function inTimedRead<T>(
  pool: DatabasePool,
  settings: Pick<TransactionSettings, "lockTimeoutMs" | "statementTimeoutMs">,
  doing: string,
  work: (tx: DatabaseTransactionConnection) => Promise<T>,
): Promise<T> {
  try {
    return await pool.transaction(async (tx) => {
      await tx.query(timeoutsStatement(settings));
      return work(tx);
    });
  } catch (error) {
    throw wrapDatabaseError(error, doing);
  }
}

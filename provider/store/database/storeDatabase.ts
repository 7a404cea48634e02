import { sql, type DatabasePool, type DatabaseTransactionConnection } from "slonik";
import { z } from "zod";
import { LockTimeoutError, OutcomeUnknownError, PoolTimeoutError, RetryableDatabaseError } from "../../core/errors.js";
import { failureOf, wrapDatabaseError } from "./databaseErrors.js";
import { withLockHolder } from "./lockHolder.js";
import { IPAM_LOCK_CLASS } from "./lockKeys.js";
import type { Tables } from "./tables.js";

/*
 * The one way the store reaches PostgreSQL: a StoreDatabase runs each piece of work on one of the
 * gate's bounded connection slots, in a transaction with its timeouts set first (and, for a write,
 * each subnet's advisory lock held), with the schema's tables bound to it. One file, so a request
 * goes down to SQL and back up through one place.
 */

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

/**
 * A bounded wait for one of the pool's connections. slonik's pool queues requests for a free
 * connection with no timeout, and under backend kills a request could wait there for a connection
 * nothing would ever hand it. So at most `size` operations (the pool's size) run at once, each
 * holding one connection; the rest wait here, first come first served, and give up after
 * `waitMs` with PoolTimeoutError (retryable: nothing was sent to the server).
 */
export class ConnectionGate {
  private free: number;
  private readonly waiting: { grant: () => void; timer: NodeJS.Timeout }[] = [];

  constructor(
    readonly size: number,
    private readonly waitMs: number,
  ) {
    this.free = size;
  }

  /**
   * Run `work` once a connection slot is free.
   * @throws PoolTimeoutError when no slot frees up within the wait; whatever `work` throws
   */
  async run<T>(doing: string, work: () => Promise<T>): Promise<T> {
    await this.acquire(doing);
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  /** Operations running, and waiting for a slot (for tests and the bench). */
  state(): { running: number; waiting: number } {
    return { running: this.size - this.free, waiting: this.waiting.length };
  }

  private acquire(doing: string): Promise<void> {
    if (this.free > 0 && this.waiting.length === 0) {
      this.free -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          clearTimeout(entry.timer);
          resolve();
        },
        timer: setTimeout(() => {
          const index = this.waiting.indexOf(entry);
          if (index >= 0) this.waiting.splice(index, 1);
          reject(new PoolTimeoutError(doing, this.size, this.waitMs));
        }, this.waitMs),
      };
      this.waiting.push(entry);
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    // The slot passes straight to the next waiter, so a newcomer cannot overtake the queue.
    if (next !== undefined) next.grant();
    else this.free += 1;
  }
}

/**
 * A transaction with the store's tables bound to it, the way slonik binds a transaction's
 * configuration once (bindTransactionConnection): a query function takes `db` and reads `db.t`,
 * instead of every call threading a `(tx, t)` pair.
 */
export type BoundConnection = DatabaseTransactionConnection & { readonly t: Tables };

/**
 * Bind `t` to a transaction. The result inherits from `tx` (slonik's methods are on its prototype
 * and only read their fields), so every method still runs against the same connection.
 */
export function bindTables(tx: DatabaseTransactionConnection, t: Tables): BoundConnection {
  return Object.assign(Object.create(tx) as DatabaseTransactionConnection, { t });
}

/**
 * One process's database as every store operation sees it: the pool, the schema's tables, the
 * timeouts and the gate that bounds connections, bound once when the store opens. Each way in runs
 * its work on a BoundConnection holding one of the gate's slots.
 */
export class StoreDatabase {
  constructor(
    readonly pool: DatabasePool,
    readonly t: Tables,
    readonly settings: TransactionSettings,
    readonly gate: ConnectionGate,
  ) {}

  /**
   * One transaction holding each listed subnet's advisory lock (see inLockedTransaction).
   * @throws LockTimeoutError, OutcomeUnknownError; other failures via wrapDatabaseError
   */
  locked<T>(ids: readonly number[], doing: string, work: (db: BoundConnection) => Promise<T>): Promise<T> {
    return this.gate.run(doing, () => inLockedTransaction(this.pool, ids, this.settings, doing, (tx) => work(bindTables(tx, this.t))));
  }

  /** Reads on one connection, in a transaction whose timeouts are set first. */
  read<T>(doing: string, work: (db: BoundConnection) => Promise<T>): Promise<T> {
    return this.gate.run(doing, () => inTimedRead(this.pool, this.settings, doing, (tx) => work(bindTables(tx, this.t))));
  }

  /** Several reads at one snapshot (REPEATABLE READ), with the timeouts set. */
  consistent<T>(doing: string, work: (db: BoundConnection) => Promise<T>): Promise<T> {
    return this.gate.run(doing, async () => {
      try {
        return await inConsistentRead(this.pool, this.settings, (tx) => work(bindTables(tx, this.t)));
      } catch (error) {
        throw wrapDatabaseError(error, doing);
      }
    });
  }
}

/** `work`'s result, or null when it fails: for a second look whose own failure must not hide the first. */
export async function orNull<T>(work: () => Promise<T>): Promise<T | null> {
  try {
    return await work();
  } catch {
    return null;
  }
}

import type { DatabasePool, DatabaseTransactionConnection } from "slonik";
import type { ConnectionGate } from "./connectionGate.js";
import { inConsistentRead } from "./consistentRead.js";
import { wrapDatabaseError } from "./databaseErrors.js";
import { inLockedTransaction, inTimedRead, type TransactionSettings } from "./lockedTransaction.js";
import type { Tables } from "./tables.js";

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

import { sql, type CommonQueryMethods, type DatabasePool } from "slonik";
import { z } from "zod";
import { LockTimeoutError, type LockHolder } from "../../core/errors.js";
import { IPAM_LOCK_CLASS } from "./lockKeys.js";

const holderRow = z.object({ pid: z.number(), application_name: z.string(), user: z.string().nullable(), since: z.string().nullable() });

/** The lookup's own bound: it reads shared-memory views and takes no table locks, so this is ample. */
const LOOKUP_TIMEOUT_MS = 2_000;

/**
 * Who holds subnet `subnetId`'s advisory lock (pg_advisory_xact_lock(IPAM_LOCK_CLASS, id): locktype
 * advisory, classid and objid the two keys, objsubid 2) in this database. Only the pid, the
 * application name, the role and when its transaction or session began: never the query text,
 * which may hold another client's values.
 */
export async function findLockHolder(db: CommonQueryMethods, subnetId: number): Promise<LockHolder | null> {
  const row = await db.maybeOne(sql.type(holderRow)`
    SELECT l.pid, coalesce(a.application_name, '') AS application_name, a.usename::text AS user,
           to_char(coalesce(a.xact_start, a.backend_start) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS since
    FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid = ${IPAM_LOCK_CLASS}::oid AND l.objid = ${subnetId}::oid
    ORDER BY l.pid LIMIT 1
  `);
  return row === null ? null : { pid: row.pid, applicationName: row.application_name, user: row.user, since: row.since };
}

/**
 * The same LOCK_TIMEOUT naming the lock's holder, looked up in a fresh transaction on the pool
 * (after the failed one rolled back) with its own short statement timeout. A lookup that fails or
 * cannot run returns the error unchanged: it never hides the timeout.
 */
export async function withLockHolder(pool: DatabasePool, error: LockTimeoutError): Promise<LockTimeoutError> {
  if (error.holder !== undefined) return error;
  try {
    const holder = await pool.transaction(async (tx) => {
      await tx.query(sql.unsafe`SELECT set_config('statement_timeout', ${String(LOOKUP_TIMEOUT_MS)}, true), set_config('lock_timeout', ${String(LOOKUP_TIMEOUT_MS)}, true)`);
      return findLockHolder(tx, Number(error.subnetId));
    });
    return new LockTimeoutError(error.subnetId, error.cause, holder);
  } catch {
    return error;
  }
}

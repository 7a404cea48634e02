import { sql, type DatabasePool } from "slonik";
import { z } from "zod";
import { IPAM_LOCK_CLASS } from "../provider/store/database/lockKeys.js";

/** How often pg_locks is read: a hold shorter than this may be missed, a longer one is measured to within it. */
const SAMPLE_MS = 20;

const holdRow = z.object({ held_ms: z.number().nullable() });

/**
 * Watch one subnet's advisory lock from the database while `work` runs: every SAMPLE_MS, pg_locks
 * says whether a session holds it and pg_stat_activity since when (the holder's transaction start:
 * our transactions take the lock in their first statement, so that is when the hold began, give or
 * take a round trip; a holder that first waited for the lock would be over-counted, and the bench
 * runs nothing else on the subnet). Not the client's clock: what other sessions actually wait behind.
 * @returns the result of `work` and the longest hold seen, in ms (0 when never seen held)
 */
export async function withLockHoldWatch<T>(pool: DatabasePool, subnetId: number, work: () => Promise<T>): Promise<{ result: T; longestHoldMs: number }> {
  let longest = 0;
  let done = false;
  const watcher = (async () => {
    while (!done) {
      const held = await pool.oneFirst(sql.type(holdRow)`
        SELECT (extract(epoch FROM max(clock_timestamp() - a.xact_start)) * 1000)::float8 AS held_ms
        FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.classid = ${IPAM_LOCK_CLASS} AND l.objid = ${subnetId} AND l.objsubid = 2
      `);
      if (held !== null && held > longest) longest = held;
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
    }
  })();
  try {
    const result = await work();
    return { result, longestHoldMs: longest };
  } finally {
    done = true;
    await watcher;
  }
}

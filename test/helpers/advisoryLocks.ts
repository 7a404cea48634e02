import pg from "pg";
import { IPAM_LOCK_CLASS } from "../../provider/store/database/lockKeys.js";

export interface HeldLock {
  readonly pid: number;
  readonly subnetId: number;
  readonly granted: boolean;
}

/** IPAM advisory locks (held or awaited) in one database, as pg_locks reports them. */
export async function ipamAdvisoryLocks(adminUrl: string, databaseName: string): Promise<HeldLock[]> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    // pg_advisory_xact_lock(int4, int4) shows up with classid = first key, objid = second, objsubid = 2.
    const { rows } = await client.query<{ pid: number; subnet_id: string; granted: boolean }>(
      `SELECT l.pid, l.objid::text AS subnet_id, l.granted FROM pg_locks l JOIN pg_database d ON d.oid = l.database
       WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND l.classid = $1::int::oid AND d.datname = $2`,
      [IPAM_LOCK_CLASS, databaseName],
    );
    return rows.map((row) => ({ pid: row.pid, subnetId: Number(row.subnet_id), granted: row.granted }));
  } finally {
    await client.end();
  }
}

/** Poll `probe` every 25 ms until it returns a value other than undefined, or fail after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

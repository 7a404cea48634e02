import { sql } from "slonik";
import { z } from "zod";
import type { BenchContext } from "./benchContext.js";

/** How long to wait for the server's own maintenance before measuring anyway (and saying so). */
const MAX_WAIT_MS = 180_000;
const POLL_MS = 1_000;

/**
 * Let the server finish the maintenance the scenarios before left it (scenarios 8–12 write up to a
 * million rows: autovacuum and analyze of those tables, and the checkpoint their WAL forces), so
 * a scenario that measures something else does not pay for it. Pass five read scenario 13's up
 * 44 s right after scenario 9 and 30 s alone (docs/benchmark-round-3.md). Forces a checkpoint
 * where the role may, then waits until no autovacuum worker runs, at most MAX_WAIT_MS.
 */
export async function quietServer(context: BenchContext, before: string): Promise<void> {
  const { pool } = context;
  const started = Date.now();
  try {
    await pool.query(sql.unsafe`CHECKPOINT`);
  } catch {
    context.log(`${before}: CHECKPOINT not permitted for this role; the server checkpoints on its own schedule`);
  }
  for (;;) {
    const workers = await pool.oneFirst(sql.type(z.object({ workers: z.number() }))`
      SELECT count(*)::int AS workers FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'
    `);
    const waited = Date.now() - started;
    if (workers === 0) {
      context.log(`${before}: server quiet after ${(waited / 1000).toFixed(1)} s (checkpoint, no autovacuum worker)`);
      return;
    }
    if (waited >= MAX_WAIT_MS) {
      context.log(`${before}: ${workers} autovacuum worker(s) still running after ${MAX_WAIT_MS / 1000} s; measuring anyway`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

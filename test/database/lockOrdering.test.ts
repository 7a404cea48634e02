import pg from "pg";
import { sql, type DatabasePool } from "slonik";
import { z } from "zod";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDatabasePool } from "../../provider/store/database/databasePool.js";
import { wrapDatabaseError } from "../../provider/store/database/databaseErrors.js";
import { inLockedTransaction, type TransactionSettings } from "../../provider/store/database/storeDatabase.js";
import { IPAM_LOCK_CLASS } from "../../provider/store/database/lockKeys.js";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.js";

const ROUNDS = 500;
// Long enough that a lock wait never hides a deadlock as a timeout; the deadlock detector fires after 1 s.
const SETTINGS: TransactionSettings = { lockTimeoutMs: 20_000, statementTimeoutMs: 30_000 };

let db: TestDatabase;
let pool: DatabasePool;
beforeAll(async () => {
  db = await createTestDatabase("lockorder");
  pool = await createDatabasePool(db.url, { maxConnections: 6 });
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

function boundedBy<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms: hang`)), ms);
  });
  return Promise.race([work, hang]).finally(() => clearTimeout(timer));
}

describe("lock ordering: several subnets locked in opposite orders", () => {
  const orders = [[1, 2], [2, 1], [2, 3], [3, 2], [3, 1], [1, 3], [3, 2, 1], [1, 2, 3]];

  /** Three transactions per round over overlapping subnet sets in different orders; records failures and any subnet held by two at once. */
  async function rounds(count: number, settings: TransactionSettings): Promise<{ failures: string[]; overlaps: string[] }> {
    const holders = new Map<number, number>();
    const overlaps: string[] = [];
    const failures: string[] = [];
    const work = (ids: number[]) => async (tx: Parameters<Parameters<typeof inLockedTransaction>[4]>[0]) => {
      for (const id of ids) {
        if ((holders.get(id) ?? 0) > 0) overlaps.push(`subnet ${id} held twice`);
        holders.set(id, (holders.get(id) ?? 0) + 1);
      }
      await tx.query(sql.type(z.object({}).passthrough())`SELECT pg_sleep(0)`);
      for (const id of ids) holders.set(id, holders.get(id)! - 1);
    };
    await boundedBy(90_000, `${count} rounds`, (async () => {
      for (let round = 0; round < count; round += 1) {
        const chosen = [orders[round % orders.length]!, orders[(round + 3) % orders.length]!, orders[(round + 5) % orders.length]!];
        const results = await Promise.allSettled(chosen.map((ids) => inLockedTransaction(pool, ids, settings, "locking in order", work(ids))));
        for (const result of results) if (result.status === "rejected") failures.push(String(result.reason?.message ?? result.reason));
      }
    })());
    return { failures, overlaps };
  }

  it(`${ROUNDS} rounds of three transactions locking {1,2}, {2,3}, {3,1} and {3,2,1} in opposite orders: no deadlock, no hang, never two holders`, async () => {
    const { failures, overlaps } = await rounds(ROUNDS, SETTINGS);
    expect(failures).toEqual([]);
    expect(overlaps).toEqual([]);
  });

  it("negative control: with locking switched off (test-only hook) the same rounds do hold a subnet twice", async () => {
    const { overlaps } = await rounds(100, { ...SETTINGS, unsafeSkipLocking: true });
    expect(overlaps.length).toBeGreaterThan(0);
  });

  it("negative control: the same two locks taken by hand in opposite orders deadlock, and the error is a retryable one", async () => {
    const a = new pg.Client({ connectionString: db.url });
    const b = new pg.Client({ connectionString: db.url });
    await a.connect();
    await b.connect();
    try {
      await a.query("BEGIN");
      await b.query("BEGIN");
      await a.query("SELECT pg_advisory_xact_lock($1, 1)", [IPAM_LOCK_CLASS]);
      await b.query("SELECT pg_advisory_xact_lock($1, 2)", [IPAM_LOCK_CLASS]);
      const results = await boundedBy(30_000, "the opposite-order pair", Promise.allSettled([
        a.query("SELECT pg_advisory_xact_lock($1, 2)", [IPAM_LOCK_CLASS]),
        b.query("SELECT pg_advisory_xact_lock($1, 1)", [IPAM_LOCK_CLASS]),
      ]));
      const deadlocks = results.filter((result) => result.status === "rejected").map((result) => (result as PromiseRejectedResult).reason);
      expect(deadlocks).toHaveLength(1);
      expect(deadlocks[0]).toMatchObject({ code: "40P01" });
      const wrapped = wrapDatabaseError(deadlocks[0], "moving an allocation");
      expect(wrapped).toMatchObject({ code: "RETRYABLE", retryable: true });
      expect(wrapped.message).toMatch(/deadlock detected while moving an allocation.*retry/);
    } finally {
      await a.query("ROLLBACK").catch(() => undefined);
      await b.query("ROLLBACK").catch(() => undefined);
      await a.end();
      await b.end();
    }
  });
});

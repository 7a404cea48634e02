import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ipam } from "../../provider/store/index.js";
import { BULK_CHUNK } from "../../provider/store/allocations/bulkInChunks.js";
import { IPAM_LOCK_CLASS } from "../../provider/store/database/lockKeys.js";
import { ipamAdvisoryLocks, waitFor } from "../helpers/advisoryLocks.js";
import { checkInvariants } from "../helpers/invariants.js";
import { createTestDatabase, adminDatabaseUrl, type TestDatabase } from "../helpers/testDatabase.js";
import { startWorker, workerScript } from "../helpers/workerProcess.js";
import { startCommitDroppingProxy } from "../helpers/commitDroppingProxy.js";

// Issue 25: a big bulk is written a chunk per transaction, so the subnet's lock is free between
// chunks, while the request stays all or nothing to its caller and idempotent under retry. Each test
// makes the moment it needs (a chunk waiting on the lock) instead of hoping a race goes its way: a
// session of the test takes the subnet's lock once the bulk's first chunk has committed, and the
// bulk's next chunk (and anyone else) queue behind it.

const COUNT = 3 * BULK_CHUNK + 100;

let db: TestDatabase;
let ipam: Ipam;
let other: Ipam;
let admin: pg.Client;
let adminB: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase("bulkchunks");
  ipam = await Ipam.open({ databaseUrl: db.url, maxConnections: 4 });
  // Another stack: its own process-wide pool and batcher.
  other = await Ipam.open({ databaseUrl: db.url, maxConnections: 4 });
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  adminB = new pg.Client({ connectionString: db.url });
  await adminB.connect();
});
afterAll(async () => {
  await admin?.end();
  await adminB?.end();
  await other?.close();
  await ipam?.close();
  await db?.drop();
});

let nextSubnet = 0;
async function newSubnet(): Promise<string> {
  nextSubnet += 1;
  // A /18: 16,382 host addresses, room for two bulks of COUNT and everything else here.
  return (await ipam.createSubnet({ cidr: `10.${nextSubnet}.0.0/18`, namespace: "bulk" })).id;
}

async function pendingOf(subnetId: string): Promise<{ id: string; held: number } | undefined> {
  const { rows } = await admin.query<{ id: string; held: number }>(
    `SELECT p.allocation_id::text AS id, (SELECT count(*)::int FROM ipam.allocated_address x WHERE x.allocation_id = p.allocation_id) AS held
     FROM ipam.pending_allocation p WHERE p.subnet_id = $1`,
    [Number(subnetId)],
  );
  return rows[0];
}

/** Take the subnet's lock in an open transaction of a session of the test's own (its COMMIT releases it). */
async function holdLock(session: pg.Client, subnetId: string): Promise<void> {
  await session.query("BEGIN");
  await session.query("SELECT pg_advisory_xact_lock($1, $2)", [IPAM_LOCK_CLASS, Number(subnetId)]);
}

async function waiters(subnetId: string): Promise<number> {
  return (await ipamAdvisoryLocks(adminDatabaseUrl(), db.name)).filter((lock) => lock.subnetId === Number(subnetId) && !lock.granted).length;
}

async function untilWaiters(subnetId: string, n: number, what: string): Promise<void> {
  await waitFor(what, async () => ((await waiters(subnetId)) >= n ? true : undefined));
}

/**
 * Start a bulk and stop it between its first and second chunk, whatever the machine's speed:
 * session A holds the lock, the bulk's first chunk queues, session B queues behind it; A lets go,
 * the first chunk runs and commits, B takes the lock before the bulk asks for it again. Returns
 * with B holding the lock and the bulk's next chunk waiting behind it (adminB COMMIT lets it on).
 */
async function stopAfterFirstChunk<T>(subnetId: string, start: () => T): Promise<{ running: T }> {
  await holdLock(admin, subnetId);
  const running = start();
  await untilWaiters(subnetId, 1, "the bulk's first chunk waiting on the lock");
  await adminB.query("BEGIN");
  const granted = adminB.query("SELECT pg_advisory_xact_lock($1, $2)", [IPAM_LOCK_CLASS, Number(subnetId)]);
  await untilWaiters(subnetId, 2, "session B queued behind it");
  await admin.query("COMMIT");
  await granted;
  await waitFor("the bulk's first chunk committed", () => pendingOf(subnetId));
  await untilWaiters(subnetId, 1, "the bulk's next chunk waiting on the lock");
  // Wrapped: awaiting a returned promise would wait for the whole bulk.
  return { running };
}

async function allocationEvents(allocationId: string): Promise<{ id: number; action: string; addresses: number }[]> {
  const { rows } = await admin.query<{ id: string; action: string; addresses: number }>(
    `SELECT id::text, action, cardinality(addresses) AS addresses FROM ipam.audit_event WHERE allocation_id = $1 ORDER BY at, id`,
    [allocationId],
  );
  return rows.map((row) => ({ ...row, id: Number(row.id) }));
}

async function expectClean(subnetId: string): Promise<void> {
  expect((await checkInvariants(db.url, { subnetIds: [subnetId] })).violations).toEqual([]);
  expect(await pendingOf(subnetId)).toBeUndefined();
}

describe("a bulk bigger than a chunk", () => {
  it("is written a chunk per transaction, and another stack allocating meanwhile is served between its chunks with distinct addresses", async () => {
    const subnetId = await newSubnet();
    // The bulk's first chunk queues on a lock the test holds, then the other stack's requests queue behind it.
    await holdLock(admin, subnetId);
    const bulk = ipam.allocate({ subnetId, owner: "stack-a/bulk", strategy: "random", count: COUNT, idempotencyKey: "bulk-1" });
    await untilWaiters(subnetId, 1, "the bulk's first chunk waiting on the lock");
    const others = Array.from({ length: 12 }, (_, n) =>
      other.allocate({ subnetId, owner: `stack-b/${n}`, ...(n % 3 === 0 ? {} : { strategy: "random" as const }), ...(n % 4 === 1 ? { count: 5 } : {}) }),
    );
    await untilWaiters(subnetId, 2, "the other stack waiting on the lock");
    await admin.query("COMMIT");
    const [made, ...served] = await Promise.all([bulk, ...others]);
    expect(made!.allocation.addresses).toHaveLength(COUNT);
    const all = [...made!.allocation.addresses, ...served.flatMap((result) => result.allocation.addresses)];
    expect(new Set(all).size).toBe(all.length);
    // One event per chunk (each its own transaction), and other allocations made between them. An
    // event's time is its transaction's start (ids come from per-session cached blocks: not in order).
    const events = await allocationEvents(made!.allocation.id);
    expect(events.map((event) => event.action)).toEqual(["allocate", "grow", "grow", "grow"]);
    expect(events.map((event) => event.addresses)).toEqual([BULK_CHUNK, BULK_CHUNK, BULK_CHUNK, 100]);
    const between = await admin.query(
      `SELECT count(*)::int AS n FROM ipam.audit_event WHERE action = 'allocate' AND owner LIKE 'stack-b/%'
         AND at > (SELECT at FROM ipam.audit_event WHERE id = $1) AND at < (SELECT at FROM ipam.audit_event WHERE id = $2)`,
      [events[0]!.id, events.at(-1)!.id],
    );
    expect(between.rows[0].n).toBeGreaterThan(0);
    await expectClean(subnetId);
  });

  it("gives back everything it took when a chunk fails, and says so", async () => {
    const subnetId = await newSubnet();
    const before = await checkInvariants(db.url, { subnetIds: [subnetId] });
    const { running: bulk } = await stopAfterFirstChunk(subnetId, () => ipam.allocate({ subnetId, owner: "stack-a/failing", strategy: "random", count: COUNT }));
    const pending = (await pendingOf(subnetId))!;
    // The bulk's next chunk waits on the lock; its connection is cut there.
    const { rows } = await admin.query<{ pid: number }>(
      `SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND NOT l.granted AND l.classid = $1::int::oid AND l.objid = $2::int::oid`,
      [IPAM_LOCK_CLASS, Number(subnetId)],
    );
    expect(rows).toHaveLength(1);
    await admin.query("SELECT pg_terminate_backend($1)", [rows[0]!.pid]);
    await adminB.query("COMMIT");
    const error = await bulk.then(() => null, (failure: unknown) => failure as { code: string; message: string; retryable: boolean });
    expect(error?.code).toBe("RETRYABLE");
    expect(error?.message).toMatch(/nothing was changed/);
    expect((await admin.query("SELECT 1 FROM ipam.allocation WHERE id = $1", [pending.id])).rowCount).toBe(0);
    const after = await checkInvariants(db.url, { subnetIds: [subnetId] });
    expect([after.allocations, after.addresses]).toEqual([before.allocations, before.addresses]);
    await expectClean(subnetId);
    // History tells what happened: the chunks taken, then given back.
    const actions = (await allocationEvents(pending.id)).map((event) => event.action);
    expect(actions[0]).toBe("allocate");
    expect(actions.at(-1)).toBe("release");
  });

  it("reports SUBNET_EXHAUSTED for the whole count when the subnet fills up part way, with nothing left allocated", async () => {
    const subnetId = await newSubnet();
    await ipam.allocate({ subnetId, owner: "filler", count: 16_382 - (BULK_CHUNK + 10) });
    const before = await checkInvariants(db.url, { subnetIds: [subnetId] });
    await expect(ipam.allocate({ subnetId, owner: "too-big", strategy: "random", count: COUNT })).rejects.toMatchObject({
      code: "SUBNET_EXHAUSTED",
      message: expect.stringContaining(`${COUNT} more addresses`),
    });
    const after = await checkInvariants(db.url, { subnetIds: [subnetId] });
    expect([after.allocations, after.addresses]).toEqual([before.allocations, before.addresses]);
    await expectClean(subnetId);
  });

  it("a lost answer to its last chunk's COMMIT: the caller gets the allocation the database holds, complete, once (never 'given back')", async () => {
    const subnetId = await newSubnet();
    const proxy = await startCommitDroppingProxy(Number(new URL(db.url).port || 5432), new URL(db.url).hostname);
    const viaProxy = await Ipam.open({ databaseUrl: proxy.through(db.url), migrate: false });
    try {
      const count = BULK_CHUNK + 7;
      const { running } = await stopAfterFirstChunk(subnetId, () => viaProxy.allocate({ subnetId, owner: "lost-commit", strategy: "random", count }));
      // The next chunk is the last one: its COMMIT arrives, its answer does not.
      proxy.dropNextCommitReply();
      await adminB.query("COMMIT");
      const made = await running;
      expect(proxy.dropped()).toBe(1);
      expect(made.allocation.addresses).toHaveLength(count);
      const { rows } = await admin.query<{ id: string; n: number }>(
        `SELECT a.id::text, (SELECT count(*)::int FROM ipam.allocated_address x WHERE x.allocation_id = a.id) AS n FROM ipam.allocation a WHERE a.subnet_id = $1`,
        [Number(subnetId)],
      );
      expect(rows).toEqual([{ id: made.allocation.id, n: count }]);
      await expectClean(subnetId);
    } finally {
      await viaProxy.close();
      await proxy.close();
    }
  });

  it("makes one allocation for concurrent twins with the same key", async () => {
    const subnetId = await newSubnet();
    const twins = await Promise.all([
      ipam.allocate({ subnetId, owner: "twin", strategy: "random", count: COUNT, idempotencyKey: "twin-key" }),
      other.allocate({ subnetId, owner: "twin", strategy: "random", count: COUNT, idempotencyKey: "twin-key" }),
      other.allocate({ subnetId, owner: "twin", strategy: "random", count: COUNT, idempotencyKey: "twin-key" }),
    ]);
    expect(new Set(twins.map((twin) => twin.allocation.id)).size).toBe(1);
    for (const twin of twins) expect([...twin.allocation.addresses].sort()).toEqual([...twins[0]!.allocation.addresses].sort());
    expect(twins[0]!.allocation.addresses).toHaveLength(COUNT);
    expect((await admin.query("SELECT 1 FROM ipam.allocation WHERE subnet_id = $1", [Number(subnetId)])).rowCount).toBe(1);
    await expectClean(subnetId);
  });
});

describe("a bulk whose process is killed between chunks", () => {
  /** Start the bulk in a worker, hold the lock once its first chunk committed, kill it while its next chunk waits. */
  async function killMidway(subnetId: string, key: string): Promise<{ id: string; held: number }> {
    const worker = startWorker<unknown>(workerScript("bulkWorker.mjs"), { databaseUrl: db.url, subnetId, owner: "killed", count: COUNT, idempotencyKey: key });
    await worker.ready;
    await stopAfterFirstChunk(subnetId, () => worker.go());
    worker.child.kill("SIGKILL");
    await worker.exited;
    await adminB.query("COMMIT");
    // Its server session ends when it next writes to the dead socket.
    await waitFor("the worker's session to end", async () => ((await waiters(subnetId)) === 0 && (await ipamAdvisoryLocks(adminDatabaseUrl(), db.name)).length === 0 ? true : undefined));
    return (await pendingOf(subnetId))!;
  }

  it("is completed by a retry with the same key: one allocation, every address", async () => {
    const subnetId = await newSubnet();
    const left = await killMidway(subnetId, "killed-key");
    expect(left.held).toBeGreaterThan(0);
    expect(left.held).toBeLessThan(COUNT);
    const retry = await ipam.allocate({ subnetId, owner: "killed", strategy: "random", count: COUNT, idempotencyKey: "killed-key" });
    expect(retry.allocation.id).toBe(left.id);
    expect(retry.allocation.addresses).toHaveLength(COUNT);
    expect((await admin.query("SELECT 1 FROM ipam.allocation WHERE subnet_id = $1", [Number(subnetId)])).rowCount).toBe(1);
    // A replay asking for another count is refused, not completed to it.
    await expect(ipam.allocate({ subnetId, owner: "killed", strategy: "random", count: COUNT + 1, idempotencyKey: "killed-key" })).rejects.toMatchObject({
      code: "IDEMPOTENCY_MISMATCH",
    });
    await expectClean(subnetId);
  });

  it("leaks nothing: once its lease has ended, the subnet's next allocations give its addresses back", async () => {
    const subnetId = await newSubnet();
    const before = await checkInvariants(db.url, { subnetIds: [subnetId] });
    const left = await killMidway(subnetId, "abandoned-key");
    // Its lease runs for minutes with the default timeouts: ended here rather than waited for.
    await admin.query("UPDATE ipam.pending_allocation SET lease_until = now() - interval '1 second' WHERE allocation_id = $1", [left.id]);
    const taken: string[] = [];
    // Each locked allocation gives back at most one chunk of it.
    for (let n = 0; n <= Math.ceil(left.held / BULK_CHUNK) && (await pendingOf(subnetId)) !== undefined; n += 1) {
      taken.push(...(await ipam.allocate({ subnetId, owner: "next", strategy: "random" })).allocation.addresses);
    }
    expect((await admin.query("SELECT 1 FROM ipam.allocation WHERE id = $1", [left.id])).rowCount).toBe(0);
    const after = await checkInvariants(db.url, { subnetIds: [subnetId] });
    expect([after.allocations, after.addresses]).toEqual([before.allocations + taken.length, before.addresses + taken.length]);
    await expectClean(subnetId);
  });
  it("is not in an export until it is complete, in either export path: an import elsewhere holds none of its addresses", async () => {
    const subnetId = await newSubnet();
    const kept = (await ipam.allocate({ subnetId, owner: "kept", count: 3 })).allocation;
    const left = await killMidway(subnetId, "export-key");
    const ofSubnet = (snapshot: { allocations: { id: string; subnetId: string; addresses: string[] }[] }) =>
      snapshot.allocations.filter((allocation) => allocation.subnetId === subnetId).map((allocation) => [allocation.id, allocation.addresses.length]);
    const whole = await ipam.exportSnapshot({ namespace: "bulk" });
    expect(ofSubnet(whole)).toEqual([[kept.id, 3]]);
    let text = "";
    await ipam.writeSnapshot({ namespace: "bulk" }, async (chunk) => void (text += chunk));
    expect(ofSubnet(JSON.parse(text))).toEqual([[kept.id, 3]]);

    const elsewhere = await createTestDatabase("bulkexport");
    const imported = await Ipam.open({ databaseUrl: elsewhere.url, maxConnections: 2 });
    try {
      await imported.importSnapshot(whole);
      expect((await imported.usage(subnetId)).allocated).toBe("3");
    } finally {
      await imported.close();
      await elsewhere.drop();
    }

    // Completed by its retry, it is exported whole.
    await ipam.allocate({ subnetId, owner: "killed", strategy: "random", count: COUNT, idempotencyKey: "export-key" });
    expect(ofSubnet(await ipam.exportSnapshot({ namespace: "bulk" }))).toEqual([[kept.id, 3], [left.id, COUNT]]);
    await expectClean(subnetId);
  });
});

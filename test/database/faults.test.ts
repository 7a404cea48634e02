import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IpamError } from "../../provider/core/errors.js";
import { Ipam } from "../../provider/store/index.js";
import { ipamAdvisoryLocks, waitFor } from "../helpers/advisoryLocks.js";
import { checkInvariants } from "../helpers/invariants.js";
import { holdAddressRow, holdSubnetLock } from "../helpers/sessionBlockers.js";
import { withApplicationName } from "../helpers/storm.js";
import { startWorker, workerScript } from "../helpers/workerProcess.js";
import { adminDatabaseUrl, createTestDatabase, type TestDatabase } from "../helpers/testDatabase.js";

let db: TestDatabase;
let ipam: Ipam;
let admin: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase("faults");
  ipam = await Ipam.open({ databaseUrl: db.url, maxConnections: 20 });
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
});
afterAll(async () => {
  await admin?.end();
  await ipam?.close();
  await db?.drop();
});

/** The backend holding `subnetId`'s lock, once it is stuck on a row lock in the middle of its transaction. */
async function stuckHolder(subnetId: string): Promise<number> {
  return waitFor("a lock holder stuck mid-transaction", async () => {
    const holder = (await ipamAdvisoryLocks(adminDatabaseUrl(), db.name)).find((lock) => lock.granted && lock.subnetId === Number(subnetId));
    if (holder === undefined) return undefined;
    const state = await admin.query<{ wait_event_type: string | null; wait_event: string | null }>(
      "SELECT wait_event_type, wait_event FROM pg_stat_activity WHERE pid = $1",
      [holder.pid],
    );
    return state.rows[0]?.wait_event_type === "Lock" && state.rows[0].wait_event === "transactionid" ? holder.pid : undefined;
  });
}

async function queuedWaiter(subnetId: string): Promise<number> {
  return waitFor("a request queued for the subnet's lock", async () => {
    const waiter = (await ipamAdvisoryLocks(adminDatabaseUrl(), db.name)).find((lock) => !lock.granted && lock.subnetId === Number(subnetId));
    return waiter?.pid;
  });
}

async function rowCounts(): Promise<{ allocations: number; addresses: number; audit: number; free: string }> {
  const { rows } = await admin.query<{ allocations: number; addresses: number; audit: number; free: string }>(`
    SELECT (SELECT count(*)::int FROM ipam.allocation) AS allocations, (SELECT count(*)::int FROM ipam.allocated_address) AS addresses,
           (SELECT count(*)::int FROM ipam.audit_event) AS audit,
           (SELECT coalesce(sum(last_ordinal - first_ordinal + 1), 0)::text FROM ipam.free_range) AS free`);
  return rows[0]!;
}

async function noLocksLeft(): Promise<void> {
  await waitFor("every IPAM advisory lock to be released", async () => ((await ipamAdvisoryLocks(adminDatabaseUrl(), db.name)).length === 0 ? true : undefined));
}

describe("faults: killed connections and processes leave nothing half-written", () => {
  it("pg_terminate_backend on a request holding the lock mid-transaction: rolled back, lock released, error says retry, waiter proceeds, the retry allocates once", async () => {
    const subnet = await ipam.createSubnet({ cidr: "10.70.0.0/24", gateway: "10.70.0.1" });
    await ipam.allocate({ subnetId: subnet.id, owner: "before" }); // 10.70.0.2
    const before = await rowCounts();

    // The victim's bulk request takes the lock, carves the free index, writes its allocation row and
    // its first addresses, then blocks on 10.70.0.5, held uncommitted by another session.
    const blocker = await holdAddressRow(db.url, subnet.id, "10.70.0.5");
    const request = { subnetId: subnet.id, owner: "victim", count: 4, idempotencyKey: "victim-request" };
    const victim = ipam.allocate(request).then(
      () => null,
      (error: unknown) => error,
    );
    const holder = await stuckHolder(subnet.id);
    const waiter = ipam.allocate({ subnetId: subnet.id, owner: "waiter" });
    await queuedWaiter(subnet.id);

    await admin.query("SELECT pg_terminate_backend($1)", [holder]);
    const error = await victim;
    expect(error).toBeInstanceOf(IpamError);
    expect(error).toMatchObject({ code: "RETRYABLE", retryable: true });
    expect((error as Error).message).toMatch(/rolled back.*retry/);

    // The waiter got the lock and saw the index as it was before the victim: 10.70.0.3 is free again.
    expect((await waiter).allocation.addresses).toEqual(["10.70.0.3"]);
    await blocker.end();
    await noLocksLeft();
    const after = await rowCounts();
    expect(after.allocations).toBe(before.allocations + 1);
    expect(after.addresses).toBe(before.addresses + 1);
    expect((await checkInvariants(db.url, { subnetIds: [subnet.id] })).violations).toEqual([]);
    expect((await ipam.listAllocations({ owner: "victim" })).allocations).toEqual([]);

    // Retrying the same idempotent request allocates exactly once, however often it is repeated.
    const retried = await ipam.allocate(request);
    const again = await ipam.allocate(request);
    expect(retried.created).toBe(true);
    expect(again.created).toBe(false);
    expect(again.allocation).toEqual(retried.allocation);
    expect(retried.allocation.addresses).toEqual(["10.70.0.4", "10.70.0.5", "10.70.0.6", "10.70.0.7"]);
    expect((await ipam.listAllocations({ owner: "victim" })).allocations).toHaveLength(1);
  });

  it("SIGKILL of a worker process mid-allocation: its transaction never commits, its lock is freed, the waiter proceeds", async () => {
    const subnet = await ipam.createSubnet({ cidr: "10.71.0.0/24", gateway: "10.71.0.1" });
    const before = await rowCounts();
    const blocker = await holdAddressRow(db.url, subnet.id, "10.71.0.4");
    const worker = startWorker(workerScript("requestWorker.mjs"), {
      databaseUrl: withApplicationName(db.url, "killed-worker"),
      requests: [{ method: "allocate", args: [{ subnetId: subnet.id, owner: "killed", count: 8 }] }],
    });
    await worker.ready;
    worker.go();
    const holder = await stuckHolder(subnet.id);
    const waiter = ipam.allocate({ subnetId: subnet.id, owner: "waiter", count: 2 });
    await queuedWaiter(subnet.id);
    const victimApp = await admin.query<{ application_name: string }>("SELECT application_name FROM pg_stat_activity WHERE pid = $1", [holder]);
    expect(victimApp.rows[0]?.application_name).toBe("killed-worker");

    worker.child.kill("SIGKILL");
    expect(await worker.exited).toMatchObject({ signal: "SIGKILL" });
    // The orphaned backend only notices its client is gone once it stops waiting; it then rolls back.
    await blocker.end();
    expect((await waiter).allocation.addresses).toEqual(["10.71.0.2", "10.71.0.3"]);
    await waitFor("the killed worker's backend to exit", async () => {
      const { rows } = await admin.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [holder]);
      return rows.length === 0 ? true : undefined;
    });
    await noLocksLeft();
    const after = await rowCounts();
    expect(after.allocations).toBe(before.allocations + 1);
    expect((await ipam.listAllocations({ owner: "killed" })).allocations).toEqual([]);
    expect((await checkInvariants(db.url, { subnetIds: [subnet.id] })).violations).toEqual([]);
  });

  it("SIGKILL of a worker process in the middle of a busy workload leaves every invariant intact", async () => {
    const subnet = await ipam.createSubnet({ cidr: "10.72.0.0/24", gateway: "10.72.0.1" });
    const worker = startWorker(workerScript("stormWorker.mjs"), {
      databaseUrl: withApplicationName(db.url, "busy-worker"),
      connections: 8,
      subnets: [{ id: subnet.id, specific: ["10.72.0.9", "10.72.0.10", "10.72.0.200"], poolSets: [null, [{ start: "10.72.0.2", end: "10.72.0.99" }]] }],
      durationMs: 60_000,
      maxOpsPerClient: 100_000,
      label: "busy",
    });
    await worker.ready;
    worker.go();
    // Kill it the moment one of its transactions is seen holding the subnet's lock.
    await waitFor("the busy worker to hold the subnet's lock", async () => {
      const locks = await ipamAdvisoryLocks(adminDatabaseUrl(), db.name);
      return locks.some((lock) => lock.granted && lock.subnetId === Number(subnet.id)) ? true : undefined;
    });
    worker.child.kill("SIGKILL");
    await worker.exited;
    await waitFor("the busy worker's backends to exit", async () => {
      const { rows } = await admin.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'busy-worker' AND datname = $1", [db.name]);
      return rows.length === 0 ? true : undefined;
    });
    await noLocksLeft();
    expect((await checkInvariants(db.url, { subnetIds: [subnet.id] })).violations).toEqual([]);
    const next = await ipam.allocate({ subnetId: subnet.id, owner: "after" });
    expect(next.allocation.addresses).toHaveLength(1);
  });

  it("a lock held past lockTimeoutMs gives LOCK_TIMEOUT, retryable, naming the subnet, and changes nothing", async () => {
    const subnet = await ipam.createSubnet({ cidr: "10.73.0.0/24" });
    const impatient = await Ipam.open({ databaseUrl: db.url, migrate: false, lockTimeoutMs: 150, maxConnections: 2 });
    try {
      const blocker = await holdSubnetLock(db.url, subnet.id);
      const before = await rowCounts();
      const error = await impatient.allocate({ subnetId: subnet.id, owner: "impatient", idempotencyKey: "k1" }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "LOCK_TIMEOUT", retryable: true, subnetId: subnet.id });
      expect((error as Error).message).toContain(`subnet ${subnet.id}`);
      expect((error as Error).message).toMatch(/nothing was changed, retry/);
      expect(await rowCounts()).toEqual(before);
      await blocker.end();
      const retried = await impatient.allocate({ subnetId: subnet.id, owner: "impatient", idempotencyKey: "k1" });
      expect(retried.created).toBe(true);
    } finally {
      await impatient.close();
    }
  });

  it("connections killed while idle in the pool: a request fails retryably at worst, and the next one succeeds", async () => {
    const subnet = await ipam.createSubnet({ cidr: "10.74.0.0/24" });
    const pooled = await Ipam.open({ databaseUrl: withApplicationName(db.url, "idle-pool"), migrate: false, maxConnections: 4 });
    try {
      await Promise.all([1, 2, 3, 4].map(() => pooled.getSubnet(subnet.id)));
      const killed = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'idle-pool' AND datname = $1", [db.name]);
      expect(killed.rowCount).toBeGreaterThan(0);
      const outcomes: unknown[] = [];
      for (let attempt = 0; attempt < 6; attempt += 1) {
        outcomes.push(await pooled.allocate({ subnetId: subnet.id, owner: "after-kill", idempotencyKey: "after-kill" }).catch((e: unknown) => e));
      }
      for (const outcome of outcomes) {
        if (outcome instanceof Error) expect(outcome).toMatchObject({ retryable: true });
      }
      expect(outcomes.at(-1)).toMatchObject({ allocation: { owner: "after-kill" } });
      expect((await ipam.listAllocations({ owner: "after-kill" })).allocations).toHaveLength(1);
    } finally {
      await pooled.close();
    }
  });

  it("the same idempotent request sent 24 times at once allocates exactly once", async () => {
    const subnet = await ipam.createSubnet({ cidr: "10.75.0.0/24" });
    const request = { subnetId: subnet.id, owner: "stack/prod/web", idempotencyKey: "stack/prod/web", count: 3 };
    const results = await Promise.all(Array.from({ length: 24 }, () => ipam.allocate(request)));
    expect(results.filter((result) => result.created)).toHaveLength(1);
    expect(new Set(results.map((result) => result.allocation.id)).size).toBe(1);
    expect((await ipam.listAllocations({ subnetId: subnet.id })).allocations).toHaveLength(1);
    expect((await checkInvariants(db.url, { subnetIds: [subnet.id] })).violations).toEqual([]);
  });
});

import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { sql } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IpamError, RetryableDatabaseError } from "../../provider/core/errors.js";
import { withRetries } from "../../provider/core/retrying.js";
import { allocation, configureConnection } from "../../provider/dynamic/index.js";
import { createDatabasePool } from "../../provider/store/database/databasePool.js";
import { wrapDatabaseError } from "../../provider/store/database/databaseErrors.js";
import { Ipam } from "../../provider/store/index.js";
import { waitFor } from "../helpers/advisoryLocks.js";
import { createLeastPrivilegeDatabase, type LeastPrivilegeDatabase } from "../helpers/leastPrivilegeDatabase.js";
import { holdAddressRow, holdSubnetLock } from "../helpers/sessionBlockers.js";
import { startOwnedServer, type OwnedServer } from "../helpers/ownedServer.js";

/**
 * Issue 15: each transient failure is provoked for real, shown retryable with its stable code and
 * class, and retried by the provider itself (the provider module, called in this process as the
 * host calls it) until it passes. The provider's retries are safe because its requests carry an
 * idempotency key or claim: each test checks the outcome holds exactly one allocation.
 */
let db: LeastPrivilegeDatabase;
let admin: pg.Client;
let subnetId: string;

beforeAll(async () => {
  db = await createLeastPrivilegeDatabase("transient");
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  const ipam = await Ipam.open({ databaseUrl: db.url });
  subnetId = (await ipam.createSubnet({ cidr: "10.60.0.0/24" })).id;
  await ipam.close();
});
afterAll(async () => {
  configureConnection(undefined);
  await admin?.end();
  await db?.drop();
});

function configure(url: string, extra: Record<string, string> = {}): void {
  const config: Record<string, string> = { "ipam:databaseUrl": url, ...extra };
  configureConnection({ get: (key) => config[key] });
}

/** The provider's create, as the host calls it: the hidden owner the SDK adds, the new inputs. */
function create(name: string, inputs: Record<string, unknown> = {}) {
  return allocation.create({ __owner: `proj/dev/${name}`, subnetId, ...inputs });
}

async function rowsOf(owner: string): Promise<{ id: string; addresses: number }[]> {
  const { rows } = await admin.query<{ id: string; addresses: number }>(
    "SELECT a.id::text AS id, count(d.*)::int AS addresses FROM ipam.allocation a LEFT JOIN ipam.allocated_address d ON d.allocation_id = a.id WHERE a.owner = $1 GROUP BY a.id",
    [owner],
  );
  return rows;
}

async function failure(work: () => Promise<unknown>): Promise<unknown> {
  return work().then(
    () => {
      throw new Error("expected a failure");
    },
    (error: unknown) => error,
  );
}

/** Still pending after `ms`: the call is waiting (retrying), not failed and not done. */
async function stillPending(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const marker = Symbol("pending");
  const settled = await Promise.race([promise.then(() => "done", () => "failed"), sleep(ms).then(() => marker)]);
  return settled === marker;
}

describe("each transient failure is retryable, with a stable code, and the provider retries it", () => {
  it("too many connections (53300, a login's connection limit): RETRYABLE too-many-connections; the provider waits it out", async () => {
    await admin.query(`ALTER ROLE ${admin.escapeIdentifier(db.login)} CONNECTION LIMIT 1`);
    const hog = new pg.Client({ connectionString: db.appUrl });
    await hog.connect();
    try {
      const error = await failure(() => Ipam.open({ databaseUrl: db.appUrl, migrate: false }));
      expect(error).toBeInstanceOf(RetryableDatabaseError);
      expect(error).toMatchObject({ code: "RETRYABLE", retryable: true, transient: "too-many-connections" });
      expect((error as Error).message).toMatch(/no free connection slot \(too many clients, SQLSTATE 53300\).*nothing was changed, retry/);

      configure(db.appUrl);
      const created = create("limited");
      expect(await stillPending(created, 1_500)).toBe(true);
      await hog.end();
      await admin.query(`ALTER ROLE ${admin.escapeIdentifier(db.login)} CONNECTION LIMIT -1`);
      const { id } = await created;
      expect(await rowsOf("proj/dev/limited")).toEqual([{ id, addresses: 1 }]);
    } finally {
      await hog.end().catch(() => undefined);
      await admin.query(`ALTER ROLE ${admin.escapeIdentifier(db.login)} CONNECTION LIMIT -1`);
    }
  });

  it("a backend terminated mid-transaction (57P01): RETRYABLE connection-lost; the provider's retry allocates exactly once", async () => {
    configure(db.appUrl);
    // The create (count 2: a locked transaction) blocks on an address row another session holds.
    const blocker = await holdAddressRow(db.url, subnetId, "10.60.0.3");
    const created = create("terminated", { count: 2 });
    const victim = await waitFor("the create to block on the held row", async () => {
      const { rows } = await admin.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE usename = $1 AND wait_event_type = 'Lock' AND wait_event = 'transactionid'",
        [db.login],
      );
      return rows[0]?.pid;
    });
    await admin.query("SELECT pg_terminate_backend($1)", [victim]);
    // Retried: the next attempt blocks on the same row again, until it is released.
    await waitFor("the retry to block on the row again", async () => {
      const { rows } = await admin.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE usename = $1 AND wait_event_type = 'Lock' AND wait_event = 'transactionid'",
        [db.login],
      );
      return rows[0] !== undefined && rows[0].pid !== victim ? true : undefined;
    });
    await blocker.end();
    const { id, outs } = await created;
    expect(outs.count).toBe(2);
    expect(await rowsOf("proj/dev/terminated")).toEqual([{ id, addresses: 2 }]);
  });

  it("the drivers' broken-connection states (pg's 'not queryable', slonik's 'terminated'/'pending destroy'): RETRYABLE connection-lost", async () => {
    const client = new pg.Client({ connectionString: db.url });
    client.on("error", () => undefined);
    await client.connect();
    const pid = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
    await admin.query("SELECT pg_terminate_backend($1)", [pid]);
    await sleep(200);
    const notQueryable = await failure(() => client.query("SELECT 1"));
    await client.end().catch(() => undefined);
    expect(String((notQueryable as Error).message)).toMatch(/not queryable|Connection terminated/);
    expect(wrapDatabaseError(notQueryable, "reading")).toMatchObject({ code: "RETRYABLE", retryable: true, transient: "connection-lost" });

    const pool = await createDatabasePool(db.url, { maxConnections: 1 });
    try {
      const pendingDestroy = await pool.connect(async (connection) => {
        const own = await connection.oneFirst(sql.unsafe`SELECT pg_backend_pid() AS pid`);
        await admin.query("SELECT pg_terminate_backend($1)", [own]);
        await sleep(200);
        return failure(() => connection.query(sql.unsafe`SELECT 1`));
      }).catch((error: unknown) => error);
      expect(String((pendingDestroy as Error).message)).toMatch(/Backend has been terminated|pending destroy|Connection terminated|not queryable/);
      expect(wrapDatabaseError(pendingDestroy, "reading")).toMatchObject({ code: "RETRYABLE", retryable: true, transient: "connection-lost" });
    } finally {
      await pool.end();
    }
  });

  it("serialization failure (40001) and deadlock (40P01) from real transactions: RETRYABLE with their class; withRetries retries them", async () => {
    const a = new pg.Client({ connectionString: db.url });
    const b = new pg.Client({ connectionString: db.url });
    await a.connect();
    await b.connect();
    try {
      await admin.query("CREATE TABLE IF NOT EXISTS public.serial_probe (k int PRIMARY KEY, v int)");
      await admin.query("INSERT INTO public.serial_probe VALUES (1, 0), (2, 0) ON CONFLICT DO NOTHING");
      // Serialization: both read, both write what the other read.
      await a.query("BEGIN ISOLATION LEVEL SERIALIZABLE");
      await b.query("BEGIN ISOLATION LEVEL SERIALIZABLE");
      await a.query("SELECT sum(v) FROM public.serial_probe");
      await b.query("SELECT sum(v) FROM public.serial_probe");
      await a.query("UPDATE public.serial_probe SET v = v + 1 WHERE k = 1");
      await b.query("UPDATE public.serial_probe SET v = v + 1 WHERE k = 2");
      await a.query("COMMIT");
      const serialization = await failure(() => b.query("COMMIT"));
      expect(serialization).toMatchObject({ code: "40001" });
      const wrappedSerialization = wrapDatabaseError(serialization, "moving an allocation");
      expect(wrappedSerialization).toMatchObject({ code: "RETRYABLE", retryable: true, transient: "serialization" });

      // Deadlock: opposite lock order.
      await a.query("BEGIN");
      await b.query("BEGIN");
      await a.query("UPDATE public.serial_probe SET v = v WHERE k = 1");
      await b.query("UPDATE public.serial_probe SET v = v WHERE k = 2");
      const outcomes = await Promise.allSettled([
        a.query("UPDATE public.serial_probe SET v = v WHERE k = 2"),
        b.query("UPDATE public.serial_probe SET v = v WHERE k = 1"),
      ]);
      const deadlock = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === "rejected")!.reason;
      await a.query("ROLLBACK");
      await b.query("ROLLBACK");
      const wrappedDeadlock = wrapDatabaseError(deadlock, "moving an allocation");
      expect(wrappedDeadlock).toMatchObject({ code: "RETRYABLE", retryable: true, transient: "deadlock" });

      // The provider's retry loop retries exactly these (and gives up on anything else at once).
      for (const transient of [wrappedSerialization, wrappedDeadlock]) {
        let calls = 0;
        const outcome = await withRetries({ timeoutMs: 5_000, idempotent: true }, async () => {
          calls += 1;
          if (calls < 3) throw transient;
          return "done";
        });
        expect(outcome).toEqual({ value: "done", attempts: 3 });
      }
    } finally {
      await a.end();
      await b.end();
      await admin.query("DROP TABLE IF EXISTS public.serial_probe");
    }
  });

  it("lock timeout (55P03): LOCK_TIMEOUT, retryable; the provider retries until the lock frees, or gives up at ipam:retryTimeoutSeconds saying so", async () => {
    const blocker = await holdSubnetLock(db.url, subnetId);
    try {
      configure(db.appUrl, { "ipam:lockTimeoutMs": "200", "ipam:retryTimeoutSeconds": "2" });
      const started = Date.now();
      const gaveUp = await failure(() => create("given-up"));
      expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
      expect((gaveUp as Error).message).toMatch(/^ipam: allocating: timed out waiting for the lock on subnet \d+; nothing was changed, retry\. The lock is held by the database session with pid \d+ .*\) \(LOCK_TIMEOUT\) \(gave up after \d+ attempts in \d+ s\)$/);
      expect(await rowsOf("proj/dev/given-up")).toEqual([]);

      configure(db.appUrl, { "ipam:lockTimeoutMs": "200" });
      const created = create("waited");
      expect(await stillPending(created, 1_000)).toBe(true);
      await blocker.end();
      const { id } = await created;
      expect(await rowsOf("proj/dev/waited")).toEqual([{ id, addresses: 1 }]);
    } finally {
      await blocker.end();
    }
  });

  it("a bad setting is a CONFIGURATION error naming the key, not its value", async () => {
    configure(db.appUrl, { "ipam:maxConnections": "lots-S3CRET" });
    const error = (await failure(() => create("misconfigured"))) as Error;
    expect(error.message).toMatch(/ipam:maxConnections must be a whole number from 1 to 100 \(CONFIGURATION\)/);
    expect(error.message).not.toContain("S3CRET");
  });
});

describe("a server that is shutting down (57P03), then gone (connection refused), then back", () => {
  let server: OwnedServer;
  beforeAll(async () => {
    server = await startOwnedServer();
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });

  it("RETRYABLE server-unavailable while it shuts down, DATABASE_UNAVAILABLE (retryable) while it is down; the provider's create lands once it is back", async () => {
    const setup = await Ipam.open({ databaseUrl: server.url() });
    const subnet = await setup.createSubnet({ cidr: "10.61.0.0/24" });
    await setup.close();
    // A session that keeps a smart shutdown waiting: meanwhile new connections are refused with 57P03.
    const lingering = new pg.Client({ connectionString: server.url() });
    lingering.on("error", () => undefined);
    await lingering.connect();
    await server.signal("SIGTERM");
    const shuttingDown = await waitFor("new connections to be refused as shutting down", async () => {
      const attempt = await Ipam.open({ databaseUrl: server.url(), migrate: false }).then(
        async (ipam) => {
          await ipam.close();
          return undefined;
        },
        (error: unknown) => error,
      );
      return attempt instanceof IpamError ? attempt : undefined;
    });
    expect(shuttingDown).toMatchObject({ code: "RETRYABLE", retryable: true, transient: "server-unavailable" });
    expect((shuttingDown as Error).message).toMatch(/starting up or shutting down/);

    configure(server.url());
    const created = allocation.create({ __owner: "proj/dev/failover", subnetId: subnet.id });
    expect(await stillPending(created, 500)).toBe(true);
    await lingering.end();
    await server.waitStopped();
    const refused = await failure(() => Ipam.open({ databaseUrl: server.url(), migrate: false }));
    expect(refused).toMatchObject({ code: "DATABASE_UNAVAILABLE", retryable: true });
    expect(await stillPending(created, 500)).toBe(true);
    await server.restart();
    const { id, outs } = await created;
    expect(outs.address).toBe("10.61.0.1");
    const check = await Ipam.open({ databaseUrl: server.url(), migrate: false });
    try {
      expect((await check.listAllocations({ subnetId: subnet.id })).allocations.map((a) => a.id)).toEqual([id]);
    } finally {
      await check.close();
    }
  });
});

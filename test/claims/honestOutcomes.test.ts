import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IpamError } from "../../provider/core/errors.js";
import { allocation, configureConnection } from "../../provider/dynamic/index.js";
import { Ipam } from "../../provider/store/index.js";
import { startCommitDroppingProxy, type CommitDroppingProxy } from "../helpers/commitDroppingProxy.js";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.js";

/** The test database's installation id, as state written by this release records it (issue 12). */
async function databaseIdentity(): Promise<string> {
  const store = await Ipam.open({ databaseUrl: db.url, migrate: false });
  try {
    return await store.installationId();
  } finally {
    await store.close();
  }
}

/**
 * Issue 15, honest outcomes: a COMMIT whose answer is lost (a test-owned proxy drops it and cuts
 * the connection) ends with the caller holding exactly what was committed, once; without an
 * idempotency key the caller is told the outcome is unknown, never that nothing changed. And
 * statementTimeoutMs bounds reads too.
 */
let db: TestDatabase;
let proxy: CommitDroppingProxy;
let admin: pg.Client;
let subnetId: string;
let viaProxy: Ipam;

beforeAll(async () => {
  db = await createTestDatabase("honest");
  const setup = await Ipam.open({ databaseUrl: db.url });
  subnetId = (await setup.createSubnet({ cidr: "10.62.0.0/24" })).id;
  await setup.close();
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  proxy = await startCommitDroppingProxy(Number(new URL(db.url).port || 5432), new URL(db.url).hostname);
  viaProxy = await Ipam.open({ databaseUrl: proxy.through(db.url), migrate: false });
});
afterAll(async () => {
  configureConnection(undefined);
  await viaProxy?.close();
  await proxy?.close();
  await admin?.end();
  await db?.drop();
});

async function stored(where: string, value: string): Promise<{ id: string; addresses: string[] }[]> {
  const { rows } = await admin.query<{ id: string; addresses: string[] }>(
    `SELECT a.id::text AS id, array_agg(host(ipam.ordinal_to_inet(d.ordinal, family(s.cidr))) ORDER BY d.ordinal) AS addresses
     FROM ipam.allocation a JOIN ipam.subnet s ON s.id = a.subnet_id JOIN ipam.allocated_address d ON d.allocation_id = a.id WHERE a.${where} = $1 GROUP BY a.id`,
    [value],
  );
  return rows;
}

describe("a lost COMMIT acknowledgement", () => {
  for (const [label, count] of [
    ["a locked transaction (count 3)", 3],
    ["the one-statement next-free path", 1],
  ] as const) {
    it(`${label}: resolved by the idempotency key, the caller holds exactly the committed allocation, once`, async () => {
      const key = `lost-commit-${count}`;
      const dropped = proxy.dropped();
      proxy.dropNextCommitReply();
      const { allocation: made } = await viaProxy.allocate({ subnetId, owner: `owner-${count}`, idempotencyKey: key, count });
      expect(proxy.dropped()).toBe(dropped + 1);
      const rows = await stored("idempotency_key", key);
      expect(rows).toEqual([{ id: made.id, addresses: made.addresses }]);
      expect(made.addresses).toHaveLength(count);
      // And asking again returns the same one.
      expect((await viaProxy.allocate({ subnetId, owner: `owner-${count}`, idempotencyKey: key, count })).allocation.id).toBe(made.id);
    });
  }

  it("without an idempotency key: OUTCOME_UNKNOWN (retryable, 'may or may not'), never 'nothing was changed', though the change did commit", async () => {
    const dropped = proxy.dropped();
    proxy.dropNextCommitReply();
    const error = await viaProxy.allocate({ subnetId, owner: "keyless", count: 2 }).then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(IpamError);
    expect(error).toMatchObject({ code: "OUTCOME_UNKNOWN", retryable: true });
    expect((error as Error).message).toMatch(/may or may not have been made/);
    expect((error as Error).message).not.toMatch(/nothing was changed/);
    expect(proxy.dropped()).toBe(dropped + 1);
    expect(await stored("owner", "keyless")).toHaveLength(1);
  });

  it("a keyed top-level subnet: the caller gets the subnet the lost COMMIT made", async () => {
    const dropped = proxy.dropped();
    proxy.dropNextCommitReply();
    const subnet = await viaProxy.createSubnet({ cidr: "10.63.0.0/24", idempotencyKey: "lost-subnet" });
    expect(proxy.dropped()).toBe(dropped + 1);
    const { rows } = await admin.query<{ id: string }>("SELECT id::text AS id FROM ipam.subnet WHERE cidr = '10.63.0.0/24'");
    expect(rows).toEqual([{ id: subnet.id }]);
  });

  it("through the provider: Create answers with the committed allocation, and the stack holds it once", async () => {
    const config: Record<string, string> = { "ipam:databaseUrl": proxy.through(db.url) };
    configureConnection({ get: (key) => config[key] });
    // Open the provider's pool first (a refresh of an id the database never held: refused, issue 23), so the COMMIT dropped is the allocation's.
    await expect(allocation.read("999999", { allocationId: "999999", __database: await databaseIdentity() })).rejects.toThrow(/not in the database.*DATABASE_RESTORED/s);
    const dropped = proxy.dropped();
    proxy.dropNextCommitReply();
    const { id, outs } = await allocation.create({ __owner: "proj/dev/lost", subnetId, count: 2 });
    expect(proxy.dropped()).toBe(dropped + 1);
    expect(await stored("owner", "proj/dev/lost")).toEqual([{ id, addresses: outs.addresses }]);
  });
});

describe("nothing left to fail after the change committed (issue 14: one round trip per create)", () => {
  // The provider's create used to commit the allocation, then read its subnet for the outputs, so
  // a connection cut there failed a create whose change had committed. The allocation's statement
  // now returns the subnet's prefix length and gateway: a cut armed for that read never fires.
  const SUBNET_READ = /WHERE s\.id = \$1/;

  it("a create sends no subnet read: the armed cut never fires, the create succeeds with its outputs, one allocation", async () => {
    const config: Record<string, string> = { "ipam:databaseUrl": proxy.through(db.url), "ipam:retryTimeoutSeconds": "0" };
    configureConnection({ get: (key) => config[key] });
    await expect(allocation.read("999999", { allocationId: "999999", __database: await databaseIdentity() })).rejects.toThrow(/not in the database.*DATABASE_RESTORED/s);
    const cut = proxy.cut();
    proxy.cutNextMatching(SUBNET_READ);
    try {
      const { id, outs } = await allocation.create({ __owner: "proj/dev/outputs", subnetId });
      expect(proxy.cut()).toBe(cut);
      expect(outs).toMatchObject({ prefixLength: 24, gateway: null });
      expect(await stored("owner", "proj/dev/outputs")).toEqual([{ id, addresses: outs.addresses }]);
    } finally {
      proxy.cutNextMatching(/(?!)/); // disarm: matches nothing
    }
  });
});

describe("every provider call ends", () => {
  it("a connection that stops answering mid-call (half-open): the call ends at its deadline with OUTCOME_UNKNOWN, and a retry completes", async () => {
    const config: Record<string, string> = {
      "ipam:databaseUrl": proxy.through(db.url),
      "ipam:retryTimeoutSeconds": "0",
      "ipam:statementTimeoutMs": "1000",
      "ipam:lockTimeoutMs": "1000",
    };
    configureConnection({ get: (key) => config[key] });
    await expect(allocation.read("999999", { allocationId: "999999", __database: await databaseIdentity() })).rejects.toThrow(/not in the database.*DATABASE_RESTORED/s);
    // The allocation statement goes out and nothing ever comes back; the server cannot help (it
    // never sees the statement), so only the provider's own deadline ends the call.
    proxy.silenceNextMatching(/allocate_next/);
    const error = await allocation.create({ __owner: "proj/dev/silent", subnetId }).then(
      () => null,
      (caught: Error) => caught,
    );
    expect(error?.message).toMatch(/^ipam: allocating: did not finish within \d+ s while allocating .*may or may not have been made.*\(OUTCOME_UNKNOWN\)$/);
    configureConnection({ get: (key) => ({ ...config, "ipam:retryTimeoutSeconds": "30" })[key] });
    const { id } = await allocation.create({ __owner: "proj/dev/silent", subnetId });
    expect(await stored("owner", "proj/dev/silent")).toEqual([expect.objectContaining({ id })]);
  }, 120_000);
});

describe("statementTimeoutMs bounds every statement, reads included", () => {
  it("reads stuck behind another session's lock are cut off with STATEMENT_TIMEOUT, a clear message, in about the timeout", async () => {
    const ipam = await Ipam.open({ databaseUrl: db.url, migrate: false, statementTimeoutMs: 300, lockTimeoutMs: 60_000 });
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    try {
      // A long-running operation (a manual migration, say) holds the tables: every read waits behind it.
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE ipam.subnet, ipam.allocation, ipam.audit_event IN ACCESS EXCLUSIVE MODE");
      const reads: [string, () => Promise<unknown>][] = [
        ["reading history", () => ipam.history({ subnetId })],
        ["reading a subnet", () => ipam.getSubnet(subnetId)],
        ["listing allocations", () => ipam.listAllocations({ subnetId })],
        ["computing usage", () => ipam.usage(subnetId)],
      ];
      for (const [doing, read] of reads) {
        const started = Date.now();
        const error = await read().then(
          () => null,
          (caught: unknown) => caught,
        );
        expect(Date.now() - started, doing).toBeLessThan(30_000);
        expect(error, doing).toMatchObject({ code: "STATEMENT_TIMEOUT", retryable: false });
        expect((error as Error).message).toBe(
          `a statement ran longer than the statement timeout (statementTimeoutMs) while ${doing} and was cancelled; nothing was changed. Raise statementTimeoutMs (ipam:statementTimeoutMs) if the work is legitimately this slow`,
        );
      }
    } finally {
      await locker.query("ROLLBACK");
      await locker.end();
      await ipam.close();
    }
  });
});

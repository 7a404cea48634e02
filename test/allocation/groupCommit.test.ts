import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AllocationResult } from "../../provider/core/types.js";
import { Ipam } from "../../provider/store/index.js";
import { IPAM_LOCK_CLASS } from "../../provider/store/database/lockKeys.js";
import { MAX_BATCH, MAX_SHARED_STATEMENTS } from "../../provider/store/allocations/nextFreeBatcher.js";
import { waitFor } from "../helpers/advisoryLocks.js";
import { freeIndexComparison } from "../helpers/freeIndex.js";
import { checkInvariants } from "../helpers/invariants.js";
import { useTestIpam } from "../helpers/openTestIpam.js";
import { runWorkers } from "../helpers/workerProcesses.js";

// Group commit (issue 14, migration 0008): next-free requests waiting in one process are served by
// one statement. Requests issued in the same event-loop turn are waiting together, so each test
// below puts them in one batch deterministically; rows one transaction wrote share its start time
// (created_at), so the tests also show that a batch really was one transaction.
const context = useTestIpam("groupcommit");
let admin: pg.Client;

beforeAll(async () => {
  admin = new pg.Client({ connectionString: context.db.url });
  await admin.connect();
});
afterAll(async () => {
  await admin?.end();
});

type Outcome = { ok: AllocationResult } | { error: { code: string; message: string } };

/** Issue every request now (same turn), then wait for all; failures are kept, not thrown. */
function together(ipam: Ipam, requests: readonly Parameters<Ipam["allocate"]>[0][]): Promise<Outcome[]> {
  return Promise.all(requests.map((request) => ipam.allocate(request).then((ok) => ({ ok }), (error: { code: string; message: string }) => ({ error }))));
}

function ok(outcome: Outcome | undefined): AllocationResult {
  if (outcome === undefined || !("ok" in outcome)) throw new Error(`expected success, got ${JSON.stringify(outcome)}`);
  return outcome.ok;
}

function failed(outcome: Outcome | undefined): { code: string; message: string } {
  if (outcome === undefined || !("error" in outcome)) throw new Error(`expected a failure, got ${JSON.stringify(outcome)}`);
  return outcome.error;
}

/**
 * How many transactions wrote these allocations: created_at is now(), the start time of the
 * writing transaction, the same for every row one transaction inserts (xmin is not: each request
 * of a batch runs in a subtransaction with an xid of its own).
 */
async function transactionsFor(allocationIds: readonly string[]): Promise<number> {
  const { rows } = await admin.query<{ n: number }>("SELECT count(DISTINCT created_at)::int AS n FROM ipam.allocation WHERE id = ANY($1::bigint[])", [allocationIds]);
  return rows[0]!.n;
}

/** How many (sub)transactions wrote these allocations: one when a batch was served together (0019). */
async function subtransactionsFor(allocationIds: readonly (string | null)[]): Promise<number> {
  const { rows } = await admin.query<{ n: number }>("SELECT count(DISTINCT xmin::text)::int AS n FROM ipam.allocation WHERE id = ANY($1::bigint[])", [allocationIds]);
  return rows[0]!.n;
}

/** allocate_next_batch called directly, its requests' subnets, owners and keys as $1–$3 (batchArguments). */
const NEXT_BATCH = "ipam.allocate_next_batch($1::int[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6, 5000)";
const batchArguments = (subnetIds: readonly number[], owners: readonly string[], keys: readonly (string | null)[]) =>
  [subnetIds, owners, keys, subnetIds.map(() => ""), subnetIds.map(() => "{}"), IPAM_LOCK_CLASS];

async function auditRows(allocationIds: readonly string[]): Promise<Map<string, { action: string; owner: string; addresses: string[] }[]>> {
  const { rows } = await admin.query<{ allocation_id: string; action: string; owner: string; addresses: string[] }>(
    "SELECT allocation_id::text, action, owner, ARRAY(SELECT host(x) FROM unnest(addresses) x) AS addresses FROM ipam.audit_event WHERE allocation_id = ANY($1::bigint[]) ORDER BY id",
    [allocationIds],
  );
  const byAllocation = new Map<string, { action: string; owner: string; addresses: string[] }[]>();
  for (const row of rows) byAllocation.set(row.allocation_id, [...(byAllocation.get(row.allocation_id) ?? []), row]);
  return byAllocation;
}

let spare = 0;
const spareCidr = () => `10.200.${spare++}.0/30`; // two usable addresses each

describe("group commit: next-free requests waiting in one process share one transaction", () => {
  it("concurrent callers get distinct addresses, the lowest free in arrival order, with their own owner, tags and audit row", async () => {
    const { ipam, db } = context;
    const subnet = await ipam.createSubnet({ cidr: "10.110.0.0/24", gateway: "10.110.0.1", reserved: ["10.110.0.10"] });
    const requests = Array.from({ length: 40 }, (_, i) => ({ subnetId: subnet.id, owner: `owner-${i}`, description: `d${i}`, tags: { n: String(i) } }));
    const results = (await together(ipam, requests)).map(ok);
    // Lowest free first, in the order the requests were made: .2 … .9, then .11 … (gateway .1 and .10 reserved).
    const expected = [...Array.from({ length: 8 }, (_, i) => `10.110.0.${2 + i}`), ...Array.from({ length: 32 }, (_, i) => `10.110.0.${11 + i}`)];
    expect(results.map((r) => r.allocation.addresses[0])).toEqual(expected);
    for (const [i, result] of results.entries()) {
      expect(result.created).toBe(true);
      expect(result.allocation).toMatchObject({ owner: `owner-${i}`, description: `d${i}`, tags: { n: String(i) }, strategy: "sequential" });
      expect(result.subnet).toEqual({ prefixLength: 24, gateway: "10.110.0.1" });
      expect(result.allocation).toEqual(await ipam.getAllocation(result.allocation.id));
    }
    const ids = results.map((r) => r.allocation.id);
    expect(await transactionsFor(ids)).toBe(1);
    const audit = await auditRows(ids);
    for (const [i, result] of results.entries()) {
      expect(audit.get(result.allocation.id)).toEqual([{ allocation_id: result.allocation.id, action: "allocate", owner: `owner-${i}`, addresses: result.allocation.addresses }]);
    }
    const { stored, expected: index } = await freeIndexComparison(db.url, await ipam.getSubnet(subnet.id));
    expect(stored).toEqual(index);
  });

  it("sequential requests (each awaited) still get the lowest free address each time, also after a release", async () => {
    const { ipam } = context;
    const subnet = await ipam.createSubnet({ cidr: "10.111.0.0/28" });
    const taken: string[] = [];
    for (let i = 0; i < 5; i += 1) taken.push((await ipam.allocate({ subnetId: subnet.id, owner: "seq" })).allocation.addresses[0]!);
    expect(taken).toEqual(["10.111.0.1", "10.111.0.2", "10.111.0.3", "10.111.0.4", "10.111.0.5"]);
    const second = await ipam.whoHolds(subnet.id, "10.111.0.2");
    await ipam.release(second!.id);
    expect((await ipam.allocate({ subnetId: subnet.id, owner: "seq" })).allocation.addresses).toEqual(["10.111.0.2"]);
    expect((await ipam.allocate({ subnetId: subnet.id, owner: "seq" })).allocation.addresses).toEqual(["10.111.0.6"]);
  });

  it("a bad, missing or exhausted request in the batch fails alone; the others succeed in the same transaction", async () => {
    const { ipam } = context;
    const subnet = await ipam.createSubnet({ cidr: "10.112.0.0/24" });
    const full = await ipam.createSubnet({ cidr: spareCidr() });
    await ipam.allocate({ subnetId: full.id, owner: "filler" });
    await ipam.allocate({ subnetId: full.id, owner: "filler" });
    const missing = String(Number(subnet.id) + 1_000_000);
    // A failure inside the statement itself (not one the function checks for): the database refuses this owner.
    await admin.query("ALTER TABLE ipam.allocation ADD CONSTRAINT test_refused_owner CHECK (owner <> 'refused')");
    try {
      const outcomes = await together(ipam, [
        { subnetId: subnet.id, owner: "a" },
        { subnetId: subnet.id, owner: "refused" },
        { subnetId: full.id, owner: "b" },
        { subnetId: subnet.id, owner: "c" },
        { subnetId: missing, owner: "d" },
        { subnetId: subnet.id, owner: "e" },
      ]);
      const good = [ok(outcomes[0]), ok(outcomes[3]), ok(outcomes[5])];
      // The refused request's address went back with its subtransaction: the next request got it.
      expect(good.map((r) => r.allocation.addresses[0])).toEqual(["10.112.0.1", "10.112.0.2", "10.112.0.3"]);
      expect(good.map((r) => r.allocation.owner)).toEqual(["a", "c", "e"]);
      expect(failed(outcomes[1])).toMatchObject({ code: "DATABASE_ERROR" });
      expect(failed(outcomes[1]).message).toContain("test_refused_owner");
      expect(failed(outcomes[2])).toMatchObject({ code: "SUBNET_EXHAUSTED", subnetId: full.id });
      expect(failed(outcomes[4])).toMatchObject({ code: "NOT_FOUND" });
      expect(await transactionsFor(good.map((r) => r.allocation.id))).toBe(1);
      expect((await ipam.listAllocations({ owner: "refused" })).allocations).toEqual([]);
      expect((await ipam.listAllocations({ owner: "b" })).allocations).toEqual([]);
      const { rows } = await admin.query("SELECT owner FROM ipam.audit_event WHERE owner IN ('refused', 'b', 'd')");
      expect(rows).toEqual([]);
      expect(await ipam.usage(subnet.id)).toMatchObject({ allocated: "3" });
      expect(await ipam.usage(full.id)).toMatchObject({ allocated: "2", free: "0" });
      expect((await checkInvariants(context.db.url, { subnetIds: [subnet.id, full.id] })).violations).toEqual([]);
    } finally {
      await admin.query("ALTER TABLE ipam.allocation DROP CONSTRAINT test_refused_owner");
    }
  });

  it("idempotency keys inside a batch: twins make one allocation, a replay of an earlier batch returns it, claims are recorded", async () => {
    const { ipam } = context;
    const subnet = await ipam.createSubnet({ cidr: "10.113.0.0/24" });
    const earlier = await ipam.allocate({ subnetId: subnet.id, owner: "stack", idempotencyKey: "k-earlier" });
    const outcomes = (
      await together(ipam, [
        { subnetId: subnet.id, owner: "stack", idempotencyKey: "k-twin", claim: "claim-1" },
        { subnetId: subnet.id, owner: "other" },
        { subnetId: subnet.id, owner: "stack", idempotencyKey: "k-twin", claim: "claim-2" },
        { subnetId: subnet.id, owner: "stack", idempotencyKey: "k-earlier" },
        { subnetId: subnet.id, owner: "stack", idempotencyKey: "k-twin" },
        { subnetId: subnet.id, owner: "stack", idempotencyKey: "k-new" },
      ])
    ).map(ok);
    // The first twin in arrival order creates; the later ones are replays of it.
    expect(outcomes.map((r) => r.created)).toEqual([true, true, false, false, false, true]);
    expect(outcomes[2]!.allocation.id).toBe(outcomes[0]!.allocation.id);
    expect(outcomes[4]!.allocation.id).toBe(outcomes[0]!.allocation.id);
    expect(outcomes[3]!.allocation.id).toBe(earlier.allocation.id);
    expect(outcomes[3]!.allocation.addresses).toEqual(earlier.allocation.addresses);
    // Twins' rolled-back attempts leave no gap: the batch's creations are consecutive.
    expect([outcomes[0], outcomes[1], outcomes[5]].map((r) => r!.allocation.addresses[0])).toEqual(["10.113.0.2", "10.113.0.3", "10.113.0.4"]);
    for (const replay of [outcomes[2]!, outcomes[3]!, outcomes[4]!]) expect(replay.subnet).toEqual({ prefixLength: 24, gateway: null });
    // The replay carrying a new claim recorded it (a later one without a claim left it alone).
    expect((await ipam.getAllocation(outcomes[0]!.allocation.id)).claim).toBe("claim-2");
    const created = [outcomes[0]!, outcomes[1]!, outcomes[5]!].map((r) => r.allocation.id);
    expect(await transactionsFor(created)).toBe(1);
    const audit = await auditRows([...created, earlier.allocation.id]);
    for (const id of [...created, earlier.allocation.id]) expect(audit.get(id)?.filter((row) => row.action === "allocate")).toHaveLength(1);
    expect(await ipam.usage(subnet.id)).toMatchObject({ allocated: "4" });
  });

  it("the statement serves each request alone: mixed subnets, a busy lock, a missing and a full subnet in one call", async () => {
    const { ipam, db } = context;
    const a = await ipam.createSubnet({ cidr: "10.118.0.0/24" });
    const busy = await ipam.createSubnet({ cidr: spareCidr() });
    const full = await ipam.createSubnet({ cidr: spareCidr() });
    for (let i = 0; i < 2; i += 1) await ipam.allocate({ subnetId: full.id, owner: "filler" });
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT pg_advisory_xact_lock($1, $2)", [IPAM_LOCK_CLASS, Number(busy.id)]);
      const ids = [a.id, busy.id, "999999", full.id, a.id, a.id].map(Number);
      const { rows } = await admin.query<{ r_index: number; r_status: string; r_ordinal: string | null; r_sqlstate: string | null }>(
        `SELECT r_index, r_status, r_ordinal::text, r_sqlstate FROM ${NEXT_BATCH}`,
        batchArguments(ids, ids.map((_, i) => `fn-${i}`), [null, null, null, null, "dup", "dup"]),
      );
      expect(rows.map((row) => [row.r_index, row.r_status, row.r_sqlstate])).toEqual([
        [1, "ok", null], [2, "busy", null], [3, "not_found", null], [4, "exhausted", null], [5, "ok", null], [6, "error", "23505"],
      ]);
      const base = BigInt(rows[0]!.r_ordinal!);
      expect(BigInt(rows[4]!.r_ordinal!)).toBe(base + 1n);
      await holder.query("COMMIT");
      expect(await ipam.usage(a.id)).toMatchObject({ allocated: "2" });
      expect(await ipam.usage(busy.id)).toMatchObject({ allocated: "0" });
      expect((await checkInvariants(db.url, { subnetIds: [a.id, busy.id, full.id] })).violations).toEqual([]);
    } finally {
      await holder.end();
    }
  });

  it("a batch with no failing request is served in one insert per table (0019): same answers, ids and audit rows in request order", async () => {
    const { ipam, db } = context;
    const a = await ipam.createSubnet({ cidr: "10.122.0.0/24", gateway: "10.122.0.1" });
    const b = await ipam.createSubnet({ cidr: "10.122.1.0/24" });
    const busy = await ipam.createSubnet({ cidr: spareCidr() });
    const full = await ipam.createSubnet({ cidr: spareCidr() });
    for (let i = 0; i < 2; i += 1) await ipam.allocate({ subnetId: full.id, owner: "filler" });
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT pg_advisory_xact_lock($1, $2)", [IPAM_LOCK_CLASS, Number(busy.id)]);
      const ids = [b.id, a.id, busy.id, "999999", full.id, a.id, b.id].map(Number);
      const { rows } = await admin.query<{ r_index: number; r_status: string; r_id: string | null; r_ordinal: string | null; r_gateway: string | null; r_prefix_length: number | null }>(
        `SELECT r_index, r_status, r_id::text, r_ordinal::text, r_gateway, r_prefix_length FROM ${NEXT_BATCH}`,
        batchArguments(ids, ids.map((_, i) => `tg-${i}`), ids.map((_, i) => `tg-key-${i}`)),
      );
      await holder.query("COMMIT");
      expect(rows.map((row) => [row.r_index, row.r_status, row.r_gateway, row.r_prefix_length])).toEqual([
        [1, "ok", null, 24], [2, "ok", "10.122.0.1", 24], [3, "busy", null, null], [4, "not_found", null, null], [5, "exhausted", null, 30], [6, "ok", "10.122.0.1", 24], [7, "ok", null, 24],
      ]);
      const served = rows.filter((row) => row.r_status === "ok");
      // The lowest free addresses, in request order per subnet (a's .1 is its gateway).
      const addresses = await admin.query<{ id: string; address: string }>("SELECT allocation_id::text AS id, host(address) AS address FROM ipam.allocated_address WHERE allocation_id = ANY($1::bigint[])", [served.map((row) => row.r_id)]);
      const byId = new Map(addresses.rows.map((row) => [row.id, row.address]));
      expect(served.map((row) => byId.get(row.r_id!))).toEqual(["10.122.1.1", "10.122.0.2", "10.122.0.3", "10.122.1.2"]);
      // Ids increase in request order, and each allocation has its one audit row, written in that order.
      const allocationIds = served.map((row) => BigInt(row.r_id!));
      expect([...allocationIds].sort((x, y) => (x < y ? -1 : 1))).toEqual(allocationIds);
      const audit = await admin.query<{ allocation_id: string; action: string; owner: string }>("SELECT allocation_id::text, action, owner FROM ipam.audit_event WHERE allocation_id = ANY($1::bigint[]) ORDER BY id", [served.map((row) => row.r_id)]);
      expect(audit.rows).toEqual(served.map((row) => ({ allocation_id: row.r_id, action: "allocate", owner: `tg-${row.r_index - 1}` })));
      expect(await transactionsFor(served.map((row) => row.r_id!))).toBe(1);
      // One subtransaction wrote them all (served one by one, each request's rows carry an xid of their own).
      expect(await subtransactionsFor(served.map((row) => row.r_id))).toBe(1);
      expect((await checkInvariants(db.url, { subnetIds: [a.id, b.id, busy.id, full.id] })).violations).toEqual([]);
    } finally {
      await holder.end();
    }
  });

  it("a batch picks what one request at a time picks (0021): fragmented free space, repeated subnets, a pool's last address, exhaustion mid-batch", async () => {
    const { ipam, db } = context;
    // Free: .2, .4–.5, .8, .10–.14 (gateway .1, reserved .3 .6 .7, .9 taken).
    const fragmented = await ipam.createSubnet({ cidr: "10.123.0.0/28", gateway: "10.123.0.1", reserved: ["10.123.0.3", "10.123.0.6", "10.123.0.7"] });
    await ipam.allocate({ subnetId: fragmented.id, owner: "filler", address: "10.123.0.9" });
    // Free: .2, .4–.6 (.6 the last usable address): six requests, the last two find it full.
    const edge = await ipam.createSubnet({ cidr: "10.123.1.0/29", gateway: "10.123.1.1", reserved: ["10.123.1.3"] });
    const v6 = await ipam.createSubnet({ cidr: "2001:db8:123::/125", gateway: "2001:db8:123::1" });
    const full = await ipam.createSubnet({ cidr: spareCidr() });
    for (let i = 0; i < 2; i += 1) await ipam.allocate({ subnetId: full.id, owner: "filler" });
    const f = fragmented.id, e = edge.id, six = v6.id;
    const ids = [f, e, six, f, e, full.id, e, f, "999999", e, six, e, e, f, f].map(Number);
    const subnetIds = [f, e, six, full.id].map(Number);
    type Answer = { r_status: string; address: string | null; r_ip_version: number | null; r_prefix_length: number | null; r_gateway: string | null; r_sqlstate: string | null };
    const call = async (indexes: readonly number[]): Promise<(Answer & { r_id: string | null })[]> =>
      (await admin.query<Answer & { r_id: string | null }>(
        `SELECT r_status, host(ipam.ordinal_to_inet(r_ordinal, r_ip_version)) AS address, r_ip_version, r_prefix_length, r_gateway, r_sqlstate, r_id::text
         FROM ${NEXT_BATCH} ORDER BY r_index`,
        batchArguments(indexes.map((i) => ids[i]!), indexes.map((i) => `pick-${i}`), indexes.map(() => null)),
      )).rows;
    const freeRanges = async () =>
      (await admin.query<{ subnet_id: number; first: string; last: string }>("SELECT subnet_id, first_ordinal::text AS first, last_ordinal::text AS last FROM ipam.free_range WHERE subnet_id = ANY($1::int[]) ORDER BY 1, 2", [subnetIds])).rows;
    const answersOnly = (rows: readonly (Answer & { r_id: string | null })[]): Answer[] => rows.map(({ r_id: _, ...answer }) => answer);
    const all = ids.map((_, i) => i);

    // Each way in a transaction rolled back afterwards, so both start from the same free space.
    await admin.query("BEGIN");
    const batch = await call(all);
    const batchFree = await freeRanges();
    const writers = await subtransactionsFor(batch.filter((row) => row.r_id !== null).map((row) => row.r_id));
    await admin.query("ROLLBACK");
    await admin.query("BEGIN");
    const oneByOne = [];
    for (const i of all) oneByOne.push(...(await call([i])));
    const oneByOneFree = await freeRanges();
    await admin.query("ROLLBACK");

    expect(writers).toBe(1); // the batch was served together, not by the one-request-at-a-time fallback
    expect(answersOnly(batch)).toEqual(answersOnly(oneByOne));
    expect(batchFree).toEqual(oneByOneFree);
    expect(batch.map((row) => row.address ?? row.r_status)).toEqual([
      "10.123.0.2", "10.123.1.2", "2001:db8:123::2", "10.123.0.4", "10.123.1.4", "exhausted", "10.123.1.5", "10.123.0.5",
      "not_found", "10.123.1.6", "2001:db8:123::3", "exhausted", "exhausted", "10.123.0.8", "10.123.0.10",
    ]);
    expect((await checkInvariants(db.url, { subnetIds: subnetIds.map(String) })).violations).toEqual([]);
  });

  it("the pipelined batch's transaction is bounded by statementTimeoutMs (BEGIN and the timeouts sent as one query)", async () => {
    const { db } = context;
    const ipam = await Ipam.open({ databaseUrl: db.url, statementTimeoutMs: 300, lockTimeoutMs: 60_000, migrate: false });
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    try {
      const subnet = await ipam.createSubnet({ cidr: "10.124.0.0/24" });
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE ipam.free_range IN ACCESS EXCLUSIVE MODE");
      const outcomes = await together(ipam, [{ subnetId: subnet.id, owner: "x" }, { subnetId: subnet.id, owner: "y" }]);
      for (const outcome of outcomes) expect(failed(outcome)).toMatchObject({ code: "STATEMENT_TIMEOUT" });
      await locker.query("ROLLBACK");
      expect(await ipam.usage(subnet.id)).toMatchObject({ allocated: "0" });
      // The connection that timed out was closed; the next batch runs and commits.
      expect((await together(ipam, [{ subnetId: subnet.id, owner: "z" }]).then((all) => ok(all[0]))).allocation.addresses).toEqual(["10.124.0.1"]);
    } finally {
      await locker.end();
      await ipam.close();
    }
  });

  it("requests for more subnets than one, made together, go out in one statement (one transaction)", async () => {
    const { ipam } = context;
    const subnets = [];
    for (let i = 0; i < 16; i += 1) subnets.push(await ipam.createSubnet({ cidr: `10.121.${i}.0/24` }));
    const results = (await together(ipam, subnets.map((subnet) => ({ subnetId: subnet.id, owner: "packed" })))).map(ok);
    expect(results.map((r) => r.allocation.addresses[0])).toEqual(subnets.map((_, i) => `10.121.${i}.1`));
    expect(await transactionsFor(results.map((r) => r.allocation.id))).toBe(1);
  });

  it(`requests arriving while a shared statement is in flight go out at once in another, up to ${MAX_SHARED_STATEMENTS} at a time`, async () => {
    const { db } = context;
    const ipam = await Ipam.open({ databaseUrl: db.url, maxConnections: MAX_SHARED_STATEMENTS + 2, migrate: false });
    const subnets = [];
    for (let i = 0; i < 2 * (MAX_SHARED_STATEMENTS + 1); i += 1) subnets.push(await ipam.createSubnet({ cidr: `10.125.${i}.0/24` }));
    const waves = Array.from({ length: MAX_SHARED_STATEMENTS + 1 }, (_, wave) => subnets.slice(2 * wave, 2 * wave + 2));
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    // The batch statements sent so far, each stuck behind the table lock below.
    const sent = async () =>
      (await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%allocate_next_batch%' AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")).rows[0]!.n;
    const until = (n: number) => waitFor(`${n} batch statements waiting on the lock`, async () => ((await sent()) === n ? n : undefined));
    try {
      await blocker.query("BEGIN");
      // Every insert into allocation waits for this lock: the statements stay in flight.
      await blocker.query("LOCK TABLE ipam.allocation IN SHARE MODE");
      const pending = [];
      for (const [wave, pair] of waves.entries()) {
        pending.push(together(ipam, pair.map((subnet) => ({ subnetId: subnet.id, owner: `wave-${wave}` }))));
        await until(Math.min(wave + 1, MAX_SHARED_STATEMENTS));
      }
      // The last wave found every shared statement in flight: it waits in this process. (Had it been
      // sent, it would show up here within a few ms; the timestamps below are the exact check.)
      for (const start = Date.now(); Date.now() - start < 250; await new Promise((resolve) => setTimeout(resolve, 10))) {
        expect(await sent()).toBe(MAX_SHARED_STATEMENTS);
      }
      // Every transaction begun so far began before this instant; one begun after it began after the COMMIT below.
      const beforeCommit = (await blocker.query<{ t: Date }>("SELECT clock_timestamp() AS t")).rows[0]!.t;
      await blocker.query("COMMIT");
      const results = (await Promise.all(pending)).map((outcomes) => outcomes.map(ok));
      expect(results.map((wave) => wave.map((r) => r.allocation.addresses[0]))).toEqual(waves.map((_, wave) => [`10.125.${2 * wave}.1`, `10.125.${2 * wave + 1}.1`]));
      // One transaction a wave; the first waves' statements were in flight together, the last one
      // (every shared statement busy) waited in this process and began only once one had finished.
      expect(await Promise.all(results.map((wave) => transactionsFor(wave.map((r) => r.allocation.id))))).toEqual(waves.map(() => 1));
      expect(await transactionsFor(results.flat().map((r) => r.allocation.id))).toBe(waves.length);
      const began = results.map((wave) => new Date(wave[0]!.allocation.createdAt) < beforeCommit);
      expect(began).toEqual(waves.map((_, wave) => wave < MAX_SHARED_STATEMENTS));
    } finally {
      await blocker.end();
      await ipam.close();
    }
  });

  it(`more requests than one batch holds (${MAX_BATCH}) go in the next batches, still distinct and lowest first`, async () => {
    const { ipam } = context;
    const subnet = await ipam.createSubnet({ cidr: "10.114.0.0/24" });
    const total = MAX_BATCH * 2 + 7;
    const results = (await together(ipam, Array.from({ length: total }, (_, i) => ({ subnetId: subnet.id, owner: `o${i}` })))).map(ok);
    expect(results.map((r) => r.allocation.addresses[0])).toEqual(Array.from({ length: total }, (_, i) => `10.114.0.${1 + i}`));
    expect(await transactionsFor(results.map((r) => r.allocation.id))).toBe(3);
  });

  it("requests for many subnets share statements, yet none waits on another subnet's lock: the free subnets' requests finish, the held one's wait", async () => {
    const { ipam, db } = context;
    const held = await ipam.createSubnet({ cidr: spareCidr() });
    // More subnets than statements in flight, so statements span several subnets (the held one's included).
    const free = [];
    for (let i = 0; i < MAX_SHARED_STATEMENTS + 2; i += 1) free.push(await ipam.createSubnet({ cidr: `10.115.${i}.0/24` }));
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT pg_advisory_xact_lock($1, $2)", [IPAM_LOCK_CLASS, Number(held.id)]);
      const waiting = ipam.allocate({ subnetId: held.id, owner: "waits" });
      let waited = false;
      void waiting.finally(() => (waited = true));
      const done = await together(ipam, free.flatMap((subnet) => [{ subnetId: subnet.id, owner: "f1" }, { subnetId: subnet.id, owner: "f2" }]));
      expect(done.map((r) => ok(r).allocation.addresses[0])).toEqual(free.flatMap((_, i) => [`10.115.${i}.1`, `10.115.${i}.2`]));
      // The held subnet's request is still waiting for the lock, having written nothing.
      expect(waited).toBe(false);
      expect((await ipam.listAllocations({ owner: "waits" })).allocations).toEqual([]);
      await holder.query("COMMIT");
      expect((await waiting).allocation.owner).toBe("waits");
    } finally {
      await holder.end();
    }
  });

  it(`more subnets waiting on held locks than shared statements (${MAX_SHARED_STATEMENTS}) still hold up no other subnet`, async () => {
    const { db } = context;
    const heldCount = MAX_SHARED_STATEMENTS + 2;
    // Connections for every waiting statement and one more: the pool is the only limit left.
    const ipam = await Ipam.open({ databaseUrl: db.url, maxConnections: heldCount + 1, migrate: false });
    const held = [];
    for (let i = 0; i < heldCount; i += 1) held.push(await ipam.createSubnet({ cidr: spareCidr() }));
    const free = await Promise.all([0, 1, 2].map((i) => ipam.createSubnet({ cidr: `10.119.${i}.0/24` })));
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query("BEGIN");
      for (const subnet of held) await holder.query("SELECT pg_advisory_xact_lock($1, $2)", [IPAM_LOCK_CLASS, Number(subnet.id)]);
      // Each held subnet's request arrives in a turn of its own, so each waits in a statement of its own.
      const waiting = [];
      for (const subnet of held) {
        waiting.push(ipam.allocate({ subnetId: subnet.id, owner: "held-waits" }));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      let settled = 0;
      for (const request of waiting) void request.finally(() => (settled += 1));
      const done = await together(ipam, free.flatMap((subnet) => [{ subnetId: subnet.id, owner: "f1" }, { subnetId: subnet.id, owner: "f2" }]));
      expect(done.map((r) => ok(r).allocation.addresses[0])).toEqual(free.flatMap((_, i) => [`10.119.${i}.1`, `10.119.${i}.2`]));
      expect(settled).toBe(0);
      expect((await ipam.listAllocations({ owner: "held-waits" })).allocations).toEqual([]);
      await holder.query("COMMIT");
      expect((await Promise.all(waiting)).map((r) => r.allocation.owner)).toEqual(held.map(() => "held-waits"));
    } finally {
      await holder.end();
      await ipam.close();
    }
  });

  it("a subnet's lock held past lockTimeoutMs fails only that subnet's requests, with LOCK_TIMEOUT, and writes nothing", async () => {
    const { db } = context;
    const ipam = await Ipam.open({ databaseUrl: db.url, lockTimeoutMs: 300, migrate: false });
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      const subnet = await ipam.createSubnet({ cidr: "10.116.0.0/24" });
      await holder.query("BEGIN");
      await holder.query("SELECT pg_advisory_xact_lock($1, $2)", [IPAM_LOCK_CLASS, Number(subnet.id)]);
      const outcomes = await together(ipam, [{ subnetId: subnet.id, owner: "x" }, { subnetId: subnet.id, owner: "y" }]);
      for (const outcome of outcomes) expect(failed(outcome)).toMatchObject({ code: "LOCK_TIMEOUT", subnetId: subnet.id });
      await holder.query("COMMIT");
      expect(await ipam.usage(subnet.id)).toMatchObject({ allocated: "0" });
    } finally {
      await holder.end();
      await ipam.close();
    }
  });

  it("4 processes × 16 concurrent clients drain one subnet: every address once, one audit row each, batches of many requests", async () => {
    const { ipam, db } = context;
    const subnet = await ipam.createSubnet({ cidr: "10.117.0.0/23", gateway: "10.117.0.1" });
    const reports = await runWorkers<string[]>(4, { databaseUrl: db.url, subnetId: subnet.id, connections: 16, scenario: "drain", strategy: "sequential" });
    const handedOut = reports.flatMap((report) => report.results.flat());
    expect(handedOut).toHaveLength(509);
    expect(new Set(handedOut).size).toBe(509);
    expect(reports.map((report) => Object.keys(report.errors))).toEqual([["SUBNET_EXHAUSTED"], ["SUBNET_EXHAUSTED"], ["SUBNET_EXHAUSTED"], ["SUBNET_EXHAUSTED"]]);
    const ids = (await ipam.listAllocations({ subnetId: subnet.id }, { limit: 1000 })).allocations.map((a) => a.id);
    expect(ids).toHaveLength(509);
    const audit = await auditRows(ids);
    for (const id of ids) expect(audit.get(id)).toHaveLength(1);
    // Each process's 16 first requests were made in one turn and went out as one batch.
    expect(await transactionsFor(ids)).toBeLessThan(509);
    expect((await checkInvariants(db.url, { subnetIds: [subnet.id] })).violations).toEqual([]);
  });
});

import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { Ipam } from "../../provider/store/index.js";
import { replicationAvailable, startReplicatedPair, withClient, type ReplicatedPair } from "../helpers/replicatedPair.js";

/**
 * Issue 23, physical: a streaming standby promoted while 8 stacks allocate next-free addresses
 * (idempotent keys, retried on every retryable failure) and a killer terminates their backends.
 * Asynchronous: the standby misses the last commits, and the promoted database refuses writes
 * (DATABASE_RESTORED) while reads work. Synchronous with the 'synchronous' failover policy: nothing
 * acknowledged is lost, writes go on with no operator step, no address is held twice.
 */
const STACKS = 8;
let pair: ReplicatedPair | undefined;

afterEach(async () => {
  await pair?.stop();
  pair = undefined;
});

interface Acknowledged {
  readonly key: string;
  readonly id: string;
  readonly address: string;
}

/** One stack: allocates `count` more addresses, each by its own key, retrying what is retryable. */
async function allocateMore(ipam: Ipam, subnetId: string, stack: number, from: number, count: number, held: Acknowledged[], deadline: number): Promise<unknown> {
  for (let i = from; i < from + count; i += 1) {
    const key = `stack-${stack}/vip-${i}`;
    for (;;) {
      try {
        const { allocation } = await ipam.allocate({ subnetId, owner: key, idempotencyKey: key });
        held.push({ key, id: allocation.id, address: allocation.addresses[0]! });
        break;
      } catch (error) {
        const { retryable, code } = error as { retryable?: boolean; code?: string };
        if (code === "DATABASE_RESTORED") return error;
        if (retryable !== true || Date.now() > deadline) throw error;
        await sleep(20);
      }
    }
  }
  return undefined;
}

/** Terminates a random client backend of database `ipam` every few milliseconds until stopped. */
function startKiller(url: () => string): { stop(): Promise<number> } {
  let running = true;
  let kills = 0;
  const loop = (async () => {
    while (running) {
      await withClient(url(), async (client) => {
        const { rows } = await client.query(
          "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE datname = 'ipam' AND backend_type = 'client backend' AND pid <> pg_backend_pid() ORDER BY random() LIMIT 1",
        );
        kills += rows.filter((row) => row.killed === true).length;
      }).catch(() => undefined);
      await sleep(25);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return kills;
    },
  };
}

async function openStacks(url: string): Promise<Ipam[]> {
  return Promise.all(Array.from({ length: STACKS }, () => Ipam.open({ databaseUrl: url, migrate: false, maxConnections: 2, acquireTimeoutMs: 60_000 })));
}

async function prepare(p: ReplicatedPair): Promise<{ admin: Ipam; subnetId: string }> {
  await withClient(p.primaryUrl(), (client) => client.query("CREATE DATABASE ipam"));
  const admin = await Ipam.open({ databaseUrl: p.url("ipam") });
  const subnet = await admin.createSubnet({ cidr: "10.23.0.0/22" });
  return { admin, subnetId: subnet.id };
}

describe.skipIf(!replicationAvailable())("failover to a streaming standby", () => {
  it("asynchronous: the lost tail is detected, writes fail closed with DATABASE_RESTORED, reads keep working", async () => {
    pair = await startReplicatedPair({ synchronous: false });
    const { admin, subnetId } = await prepare(pair);
    const stacks = await openStacks(pair.url("ipam"));
    const held: Acknowledged[][] = stacks.map(() => []);
    const deadline = Date.now() + 90_000;
    try {
      const killer = startKiller(() => pair!.primaryUrl("ipam"));
      await Promise.all(stacks.map((ipam, n) => allocateMore(ipam, subnetId, n, 0, 3, held[n]!, deadline)));
      // What the standby has replayed now, it keeps; from here on it misses every commit.
      await pair.detachStandby();
      await Promise.all(stacks.map((ipam, n) => allocateMore(ipam, subnetId, n, 3, 2, held[n]!, deadline)));
      expect(await killer.stop()).toBeGreaterThan(0);
      const beforeTail = held.map((mine) => mine.slice(0, 3));
      const tail = held.flatMap((mine) => mine.slice(3));
      await pair.failover();

      // Every stack's next write is refused, and nothing is handed out.
      const refusals = await Promise.all(stacks.map((ipam, n) => allocateMore(ipam, subnetId, n, 5, 1, held[n]!, deadline)));
      for (const refusal of refusals) {
        expect(refusal).toMatchObject({ code: "DATABASE_RESTORED" });
        expect(String((refusal as Error).message)).toMatch(/timeline 1 to 2.*ipam reconcile/s);
      }
      expect(held.every((mine) => mine.length === 5)).toBe(true);
      // Reads keep working: what the standby had is there, the lost tail is not.
      for (const { id, address } of beforeTail.flat()) expect((await admin.getAllocation(id)).addresses).toEqual([address]);
      for (const { id } of tail) await expect(admin.getAllocation(id)).rejects.toMatchObject({ code: "NOT_FOUND" });
    } finally {
      await Promise.all([...stacks, admin].map((ipam) => ipam.close()));
    }
  });

  it("synchronous, policy 'synchronous': nothing acknowledged is lost, no operator step, no address twice", async () => {
    pair = await startReplicatedPair({ synchronous: true });
    const { admin, subnetId } = await prepare(pair);
    await withClient(pair.primaryUrl("ipam"), (client) => client.query("UPDATE ipam.write_fence SET failover_policy = 'synchronous'").then(() => client.query("SELECT ipam.record_write_fence('test')")));
    const stacks = await openStacks(pair.url("ipam"));
    const held: Acknowledged[][] = stacks.map(() => []);
    const deadline = Date.now() + 90_000;
    try {
      let current = pair.primaryUrl("ipam");
      const killer = startKiller(() => current);
      const allocating = Promise.all(stacks.map((ipam, n) => allocateMore(ipam, subnetId, n, 0, 6, held[n]!, deadline)));
      // Promote while every stack is mid-way.
      while (held.some((mine) => mine.length < 2) && Date.now() < deadline) await sleep(20);
      await pair.failover();
      current = pair.standbyUrl("ipam");
      const results = await allocating;
      expect(await killer.stop()).toBeGreaterThan(0);
      expect(results.every((result) => result === undefined)).toBe(true);

      const acknowledged = held.flat();
      expect(acknowledged).toHaveLength(STACKS * 6);
      for (const { key, id, address } of acknowledged) {
        const found = await admin.findAllocationByKey(subnetId, key);
        expect(found).toMatchObject({ id, addresses: [address], owner: key });
      }
      await withClient(pair.standbyUrl("ipam"), async (client) => {
        const { rows } = await client.query("SELECT count(*)::int AS n, count(DISTINCT address)::int AS distinct_addresses FROM ipam.allocated_address");
        expect(rows[0].n).toBe(rows[0].distinct_addresses);
        const failovers = await client.query("SELECT detail FROM ipam.audit_event WHERE action = 'database.failover'");
        expect(failovers.rows).toHaveLength(1);
        expect(failovers.rows[0].detail.detected).toMatchObject({ kind: "timeline", recordedTimeline: 1, currentTimeline: 2 });
      });
    } finally {
      await Promise.all([...stacks, admin].map((ipam) => ipam.close()));
    }
  });
});

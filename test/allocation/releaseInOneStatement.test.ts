import { createServer, connect, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ipam } from "../../provider/store/index.js";
import { checkInvariants } from "../helpers/invariants.js";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.js";

/*
 * Issue 25, scenario 13 (destroy): a release is one statement (migration 0023, release_allocation),
 * sent with BEGIN, the timeouts and COMMIT in one write on a pipelined connection, where it was five
 * round trips. Its answers are the locked transaction's: released (addresses sorted, the free index
 * exact), gone, in another subnet, superseded, and a hold-down subnet's release still holds the
 * addresses back. Both ways in are checked: the pipelined connection and the pool's transaction.
 */

/** A TCP proxy that records every chunk a client writes to the server, in order. */
async function recordingProxy(port: number): Promise<{ url(base: string): string; chunks: string[]; close(): Promise<void> }> {
  const chunks: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(port, "127.0.0.1");
    sockets.add(client).add(upstream);
    client.on("data", (chunk: Buffer) => {
      chunks.push(chunk.toString("latin1"));
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    for (const socket of [client, upstream]) socket.on("error", () => undefined).on("close", () => (client.destroy(), upstream.destroy()));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("proxy has no port");
  return {
    url(base) {
      const url = new URL(base);
      url.hostname = "127.0.0.1";
      url.port = String(address.port);
      return url.toString();
    },
    chunks,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let db: TestDatabase;
let proxy: Awaited<ReturnType<typeof recordingProxy>>;
const ways = { pipelined: undefined as unknown as Ipam, pool: undefined as unknown as Ipam };

beforeAll(async () => {
  db = await createTestDatabase("releaseone");
  proxy = await recordingProxy(Number(new URL(db.url).port || 5432));
  ways.pipelined = await Ipam.open({ databaseUrl: proxy.url(db.url) });
  ways.pool = await Ipam.open({ databaseUrl: proxy.url(db.url), pipelinedGroupCommit: false });
});
afterAll(async () => {
  await ways.pipelined?.close();
  await ways.pool?.close();
  await proxy?.close();
  await db?.drop();
});

describe("a release in one statement (migration 0023)", () => {
  it("goes out as one write holding BEGIN, the timeouts, the statement and COMMIT on a pipelined connection; through the pool, as its transaction", async () => {
    const ipam = ways.pipelined;
    const subnet = await ipam.createSubnet({ cidr: "10.70.0.0/24", namespace: "one-write" });
    const [warm, measured] = [await ipam.allocate({ subnetId: subnet.id, owner: "p/s/warm" }), await ipam.allocate({ subnetId: subnet.id, owner: "p/s/a" })];
    await ipam.release(warm.allocation.id, { subnetId: subnet.id }); // the pipelined connection is open from here on
    const from = proxy.chunks.length;
    expect(await ipam.release(measured.allocation.id, { subnetId: subnet.id })).toEqual({ released: true, addresses: ["10.70.0.2"] });
    const sent = proxy.chunks.slice(from);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatch(/BEGIN; SET LOCAL lock_timeout = \d+; SET LOCAL statement_timeout = \d+/);
    expect(sent[0]).toContain("release_allocation");
    expect(sent[0]).toContain("COMMIT");

    const other = await ways.pool.allocate({ subnetId: subnet.id, owner: "p/s/b" });
    const before = proxy.chunks.length;
    expect(await ways.pool.release(other.allocation.id, { subnetId: subnet.id })).toMatchObject({ released: true });
    const pooled = proxy.chunks.slice(before);
    expect(pooled.filter((chunk) => chunk.includes("release_allocation"))).toHaveLength(1);
    expect(pooled.some((chunk) => /takeForRelease|DELETE FROM/.test(chunk))).toBe(false); // no second statement of the old transaction
  });

  for (const way of ["pipelined", "pool"] as const) {
    it(`answers as the locked transaction did (${way}): released, gone, in another subnet, superseded; the free index stays exact`, async () => {
      const ipam = ways[way];
      const a = await ipam.createSubnet({ cidr: way === "pipelined" ? "10.71.0.0/28" : "10.72.0.0/28", namespace: `answers-${way}` });
      const b = await ipam.createSubnet({ cidr: way === "pipelined" ? "10.71.1.0/28" : "10.72.1.0/28", namespace: `answers-${way}` });
      const three = (await ipam.allocate({ subnetId: a.id, owner: "p/s/three", count: 3 })).allocation;
      const next = (await ipam.allocate({ subnetId: a.id, owner: "p/s/next" })).allocation;
      // A release naming the wrong subnet finds the allocation where it is.
      const released = await ipam.release(three.id, { subnetId: b.id });
      expect(released).toEqual({ released: true, addresses: [...three.addresses].sort() });
      expect(await ipam.release(three.id, { subnetId: a.id })).toEqual({ released: false, addresses: [] });
      expect(await ipam.release("999999", { subnetId: a.id })).toEqual({ released: false, addresses: [] });
      // The released addresses are the next ones handed out, lowest first.
      expect((await ipam.allocate({ subnetId: a.id, owner: "p/s/again" })).allocation.addresses).toEqual([three.addresses.sort()[0]]);
      // A newer claimant holds it: the older claim's release changes nothing.
      const claimed = (await ipam.allocate({ subnetId: b.id, owner: "p/s/claimed", claim: "claim-2" } as never)).allocation;
      await ipam.adoptAllocation({ allocationId: claimed.id, owner: "p/s/adopter", claim: "claim-3" });
      expect(await ipam.release(claimed.id, { subnetId: b.id, claim: "claim-2" })).toEqual({ released: false, addresses: [], superseded: true });
      expect((await ipam.getAllocation(claimed.id)).owner).toBe("p/s/adopter");
      expect(await ipam.release(claimed.id, { subnetId: b.id, claim: "claim-3" })).toMatchObject({ released: true });
      expect(await ipam.release(next.id)).toMatchObject({ released: true, addresses: next.addresses });
      expect((await checkInvariants(db.url, { subnetIds: [a.id, b.id] })).violations).toEqual([]);
    });

    it(`a subnet with a hold-down still holds the released addresses back (${way})`, async () => {
      const ipam = ways[way];
      const subnet = await ipam.createSubnet({ cidr: way === "pipelined" ? "10.73.0.0/29" : "10.74.0.0/29", namespace: `hold-${way}`, releaseHoldSeconds: 300 });
      const held = (await ipam.allocate({ subnetId: subnet.id, owner: "p/s/held" })).allocation;
      expect(await ipam.release(held.id, { subnetId: subnet.id })).toEqual({ released: true, addresses: held.addresses });
      expect((await ipam.usageReport(subnet.id)).held).toEqual([expect.objectContaining({ address: held.addresses[0], owner: "p/s/held", allocationId: held.id })]);
      // (checkInvariants derives the free index without holds: test/restore/holdDown.test.ts checks that path.)
      expect((await ipam.allocate({ subnetId: subnet.id, owner: "p/s/other" })).allocation.addresses).not.toEqual(held.addresses);
    });
  }

  it("many concurrent releases over a few subnets, through both ways at once: each address released once, the free index exact", async () => {
    const subnets = await Promise.all([0, 1, 2].map((i) => ways.pipelined.createSubnet({ cidr: `10.75.${i}.0/24`, namespace: "storm" })));
    const made = await Promise.all(Array.from({ length: 90 }, (_, i) => ways.pipelined.allocate({ subnetId: subnets[i % 3]!.id, owner: `p/s/storm-${i}` })));
    // Every allocation released twice at once, once through each way: exactly one of the two releases it.
    const results = await Promise.all(
      made.flatMap(({ allocation }) => [ways.pipelined.release(allocation.id, { subnetId: allocation.subnetId }), ways.pool.release(allocation.id, { subnetId: allocation.subnetId })]),
    );
    for (let i = 0; i < made.length; i += 1) {
      const pair = [results[2 * i]!, results[2 * i + 1]!];
      expect(pair.filter((r) => r.released)).toHaveLength(1);
      expect(pair.find((r) => r.released)!.addresses).toEqual(made[i]!.allocation.addresses);
    }
    const report = await checkInvariants(db.url, { subnetIds: subnets.map((s) => s.id) });
    expect(report.violations).toEqual([]);
    for (const subnet of subnets) expect((await ways.pool.usageReport(subnet.id)).usage).toMatchObject({ allocated: "0" });
  });
});

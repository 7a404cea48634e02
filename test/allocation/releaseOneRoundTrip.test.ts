import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ipam, type IpamError } from "../../provider/store/index.js";
import { IPAM_LOCK_CLASS } from "../../provider/store/database/lockKeys.js";
import { useTestIpamWithAdmin } from "../helpers/openTestIpam.js";
import { freeIndexComparison } from "../helpers/freeIndex.js";

/*
 * A release naming its subnet (the provider's delete does) is one transaction sent in one round
 * trip (allocations/pipelinedRelease.ts): the process writes to the server once and reads the
 * answers. The observable: the socket writes to any server during the call (a write the client makes
 * after an answer arrived is a second round trip). Its outcomes are the pool path's: released with its
 * addresses back in the free space or held, not found, superseded, another subnet's (the lookup),
 * and LOCK_TIMEOUT.
 */

const context = useTestIpamWithAdmin("release-one-round-trip", { lockTimeoutMs: 300 });
let pooled: Ipam;
let cidrCounter = 0;
const nextCidr = () => `10.83.${cidrCounter++}.0/24`;

beforeAll(async () => {
  // The same store with every transaction through the pool: the count the round trips are compared to.
  pooled = await Ipam.open({ databaseUrl: context.db.url, migrate: false, pipelinedGroupCommit: false });
});
afterAll(async () => {
  await pooled?.close();
});

/** `work`'s result, and how many times the process flushed bytes to a socket while it ran. */
async function socketWritesDuring<T>(work: () => Promise<T>): Promise<{ result: T; writes: number }> {
  const prototype = net.Socket.prototype as unknown as Record<"_write" | "_writev", (...args: unknown[]) => unknown>;
  const originals = { _write: prototype._write, _writev: prototype._writev };
  let writes = 0;
  for (const name of ["_write", "_writev"] as const) {
    prototype[name] = function (this: unknown, ...args: unknown[]) {
      writes += 1;
      return originals[name].apply(this, args);
    };
  }
  try {
    return { result: await work(), writes };
  } finally {
    Object.assign(prototype, originals);
  }
}

async function heldRows(subnetId: string) {
  const { rows } = await context.admin.query<{ address: string; owner: string; allocation_id: string }>(
    "SELECT host(address) AS address, owner, allocation_id::text FROM ipam.held_address WHERE subnet_id = $1 ORDER BY ordinal",
    [Number(subnetId)],
  );
  return rows;
}

describe("a release naming its subnet", () => {
  it("is one write to the server (the pool's transaction is several), and gives the addresses back", async () => {
    const { ipam } = context;
    const subnet = await ipam.createSubnet({ cidr: nextCidr() });
    const [warm, piped, viaPool] = [
      await ipam.allocate({ subnetId: subnet.id, owner: "rt/warm" }),
      await ipam.allocate({ subnetId: subnet.id, owner: "rt/piped", count: 3 }),
      await ipam.allocate({ subnetId: subnet.id, owner: "rt/pool", count: 3 }),
    ];
    // The first release opens the pipelined connection (its handshake is writes of its own).
    await ipam.release(warm.allocation.id, { subnetId: subnet.id });

    const one = await socketWritesDuring(() => ipam.release(piped.allocation.id, { subnetId: subnet.id }));
    expect(one.result).toEqual({ released: true, addresses: piped.allocation.addresses });
    expect(one.writes).toBe(1);
    const several = await socketWritesDuring(() => pooled.release(viaPool.allocation.id, { subnetId: subnet.id }));
    expect(several.result).toEqual({ released: true, addresses: viaPool.allocation.addresses });
    expect(several.writes).toBeGreaterThan(1);

    const { stored, expected } = await freeIndexComparison(context.db.url, subnet);
    expect(stored).toEqual(expected);
    expect((await ipam.history({ allocationId: piped.allocation.id })).events.filter((e) => e.action === "release")).toHaveLength(1);
    // The first address is free again: next-free hands it out.
    expect((await ipam.allocate({ subnetId: subnet.id, owner: "rt/again" })).allocation.addresses).toEqual(warm.allocation.addresses);
  });

  it("under hold-down holds the addresses for the releasing owner, exactly as the pool's release does", async () => {
    const { ipam } = context;
    const bySide = [];
    for (const store of [ipam, pooled]) {
      const subnet = await ipam.createSubnet({ cidr: nextCidr(), releaseHoldSeconds: 3600 });
      const allocation = (await ipam.allocate({ subnetId: subnet.id, owner: "rt/held", count: 4 })).allocation;
      await store.release(allocation.id, { subnetId: subnet.id }); // warms the pipelined connection
      const again = (await ipam.allocate({ subnetId: subnet.id, owner: "rt/held", count: 4 })).allocation;
      const { result, writes } = await socketWritesDuring(() => store.release(again.id, { subnetId: subnet.id }));
      expect(result).toEqual({ released: true, addresses: again.addresses });
      if (store === ipam) expect(writes).toBe(1);
      const held = await heldRows(subnet.id);
      expect(held.map((row) => row.address)).toEqual([...allocation.addresses, ...again.addresses]);
      expect(held.filter((row) => row.allocation_id === again.id).every((row) => row.owner === "rt/held")).toBe(true);
      // Held, not free: the next allocation skips all eight.
      const next = (await ipam.allocate({ subnetId: subnet.id, owner: "rt/next" })).allocation.addresses;
      expect([...allocation.addresses, ...again.addresses]).not.toContain(next[0]);
      bySide.push({ held: held.length, next: next.length });
    }
    expect(bySide[0]).toEqual(bySide[1]);
  });

  it("answers not found, superseded and another subnet's (released through the lookup) as before", async () => {
    const { ipam } = context;
    const [home, other] = [await ipam.createSubnet({ cidr: nextCidr() }), await ipam.createSubnet({ cidr: nextCidr() })];
    const first = await ipam.allocate({ subnetId: home.id, owner: "rt/claims", idempotencyKey: "rt-claims", claim: "claim-1" });
    await ipam.allocate({ subnetId: home.id, owner: "rt/claims", idempotencyKey: "rt-claims", claim: "claim-2" });
    const stale = await socketWritesDuring(() => ipam.release(first.allocation.id, { subnetId: home.id, claim: "claim-1" }));
    expect(stale.result).toEqual({ released: false, addresses: [], superseded: true });
    expect(stale.writes).toBe(1);
    expect(await ipam.getAllocation(first.allocation.id)).toMatchObject({ addresses: first.allocation.addresses });

    expect(await ipam.release(first.allocation.id, { subnetId: other.id, claim: "claim-2" })).toEqual({ released: true, addresses: first.allocation.addresses });
    const gone = await socketWritesDuring(() => ipam.release(first.allocation.id, { subnetId: home.id }));
    expect(gone).toEqual({ result: { released: false, addresses: [] }, writes: 1 });
    for (const subnet of [home, other]) {
      const { stored, expected } = await freeIndexComparison(context.db.url, subnet);
      expect(stored).toEqual(expected);
    }
  });

  it("waits for the subnet's lock, and ends with LOCK_TIMEOUT naming its holder, changing nothing", async () => {
    const { ipam, admin } = context;
    const subnet = await ipam.createSubnet({ cidr: nextCidr() });
    const allocation = (await ipam.allocate({ subnetId: subnet.id, owner: "rt/locked" })).allocation;
    await admin.query("SELECT pg_advisory_lock($1, $2)", [IPAM_LOCK_CLASS, Number(subnet.id)]);
    const pid = (await admin.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
    try {
      const error = (await ipam.release(allocation.id, { subnetId: subnet.id }).catch((e: unknown) => e)) as IpamError;
      expect(error).toMatchObject({ code: "LOCK_TIMEOUT", holder: { pid } });
    } finally {
      await admin.query("SELECT pg_advisory_unlock($1, $2)", [IPAM_LOCK_CLASS, Number(subnet.id)]);
    }
    expect(await ipam.getAllocation(allocation.id)).toMatchObject({ addresses: allocation.addresses });
    expect(await ipam.release(allocation.id, { subnetId: subnet.id })).toEqual({ released: true, addresses: allocation.addresses });
  });
});

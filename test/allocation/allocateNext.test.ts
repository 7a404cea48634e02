import pg from "pg";
import { describe, expect, it } from "vitest";
import { Ipam } from "../../provider/store/index.js";
import { IPAM_LOCK_CLASS } from "../../provider/store/database/lockKeys.js";
import { freeIndexComparison } from "../helpers/freeIndex.js";
import { useTestIpam } from "../helpers/openTestIpam.js";

const context = useTestIpam("allocnext");

async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error("expected a failure");
}

// The one-statement next-free path (allocate_next, migration 0003): what it returns is what is
// stored, it takes the subnet's lock, and it keeps the free index exact.
describe("next-free allocation in one statement", () => {
  it("returns exactly the stored allocation, IPv4 and IPv6, and keeps the free index exact", async () => {
    const { ipam, db } = context;
    for (const cidr of ["10.90.0.0/29", "2001:db8:90::/125"]) {
      const subnet = await ipam.createSubnet({ cidr, reserved: [cidr.startsWith("10.") ? "10.90.0.2" : "2001:db8:90::2"], tags: { t: "1" } });
      const created = await ipam.allocate({ subnetId: subnet.id, owner: "o", description: "d", tags: { k: "v" } });
      expect(created.created).toBe(true);
      expect(created.allocation).toEqual(await ipam.getAllocation(created.allocation.id));
      expect(created.allocation.addresses).toEqual([cidr.startsWith("10.") ? "10.90.0.1" : "2001:db8:90::1"]);
      const next = await ipam.allocate({ subnetId: subnet.id, owner: "o" });
      expect(next.allocation.addresses).toEqual([cidr.startsWith("10.") ? "10.90.0.3" : "2001:db8:90::3"]);
      const { stored, expected } = await freeIndexComparison(db.url, await ipam.getSubnet(subnet.id));
      expect(stored).toEqual(expected);
    }
  });

  it("drains a subnet to SUBNET_EXHAUSTED and refuses a missing subnet with NOT_FOUND", async () => {
    const { ipam } = context;
    const subnet = await ipam.createSubnet({ cidr: "10.91.0.0/30" });
    const held = [await ipam.allocate({ subnetId: subnet.id, owner: "o" }), await ipam.allocate({ subnetId: subnet.id, owner: "o" })];
    expect(held.flatMap((result) => result.allocation.addresses)).toEqual(["10.91.0.1", "10.91.0.2"]);
    expect(await failure(ipam.allocate({ subnetId: subnet.id, owner: "o" }))).toMatchObject({ code: "SUBNET_EXHAUSTED" });
    expect(await failure(ipam.allocate({ subnetId: "987654", owner: "o" }))).toMatchObject({ code: "NOT_FOUND" });
    expect(await ipam.usage(subnet.id)).toMatchObject({ allocated: "2", free: "0" });
  });

  it("replays an idempotency key: 8 concurrent requests create one allocation", async () => {
    const { ipam } = context;
    const subnet = await ipam.createSubnet({ cidr: "10.92.0.0/24" });
    const results = await Promise.all(Array.from({ length: 8 }, () => ipam.allocate({ subnetId: subnet.id, owner: "o", idempotencyKey: "stack#1" })));
    expect(new Set(results.map((result) => result.allocation.id)).size).toBe(1);
    expect(results.filter((result) => result.created)).toHaveLength(1);
    expect(await ipam.usage(subnet.id)).toMatchObject({ allocated: "1" });
  });

  it("waits for the subnet's advisory lock, times out with LOCK_TIMEOUT and writes nothing", async () => {
    const { db } = context;
    const ipam = await Ipam.open({ databaseUrl: db.url, lockTimeoutMs: 300 });
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      const subnet = await ipam.createSubnet({ cidr: "10.93.0.0/24" });
      await holder.query("BEGIN");
      await holder.query("SELECT pg_advisory_xact_lock($1, $2)", [IPAM_LOCK_CLASS, Number(subnet.id)]);
      expect(await failure(ipam.allocate({ subnetId: subnet.id, owner: "o" }))).toMatchObject({ code: "LOCK_TIMEOUT", subnetId: subnet.id });
      await holder.query("COMMIT");
      expect(await ipam.usage(subnet.id)).toMatchObject({ allocated: "0" });
      expect((await ipam.allocate({ subnetId: subnet.id, owner: "o" })).allocation.addresses).toEqual(["10.93.0.1"]);
    } finally {
      await holder.end();
      await ipam.close();
    }
  });
});

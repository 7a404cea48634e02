import { describe, expect, it } from "vitest";
import { BULK_CHUNK } from "../../provider/store/allocations/bulkInChunks.js";
import { checkInvariants } from "../helpers/invariants.js";
import { useTestIpamWithAdmin } from "../helpers/openTestIpam.js";

// Migration 0016: a bulk whose writer died (or gave up) leaves its allocation pending until its
// lease ends; then the subnet's next locked allocation gives it back a chunk at a time. Next-free
// requests (the group-committed hot path, allocate_next_batch) did not: a subnet served only by
// next-free kept the dead bulk's addresses forever. Now return_expired_holds, which every batch
// calls for each subnet it locked, reaps one chunk of one expired pending allocation.

const context = useTestIpamWithAdmin("reapbulk");

describe("next-free allocations and an abandoned bulk", () => {
  it("give the bulk's addresses back, one chunk per batch, once its lease has ended", async () => {
    const { ipam, admin, db } = context;
    const subnet = await ipam.createSubnet({ cidr: "10.61.0.0/20", namespace: "reap" });
    const held = 2 * BULK_CHUNK + 452;
    const bulk = await ipam.allocate({ subnetId: subnet.id, owner: "dead", strategy: "random", count: held });
    // The state a writer killed between chunks leaves (bulkInChunks.test.ts makes it with SIGKILL):
    // the allocation pending for more than it holds, its lease over.
    await admin.query("INSERT INTO ipam.pending_allocation (allocation_id, subnet_id, target_count, lease_until) VALUES ($1, $2, $3, now() - interval '1 second')", [
      bulk.allocation.id,
      Number(subnet.id),
      4000,
    ]);
    const before = await checkInvariants(db.url, { subnetIds: [subnet.id] });

    const served: string[] = [];
    for (let batch = 1; batch <= 3; batch += 1) {
      served.push(...(await ipam.allocate({ subnetId: subnet.id, owner: "next" })).allocation.addresses);
      const left = await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM ipam.allocated_address WHERE allocation_id = $1", [bulk.allocation.id]);
      // One chunk per batch: the highest first, nothing more.
      expect(left.rows[0]!.n).toBe(Math.max(held - batch * BULK_CHUNK, 0));
    }
    expect((await admin.query("SELECT 1 FROM ipam.allocation WHERE id = $1", [bulk.allocation.id])).rowCount).toBe(0);
    expect((await admin.query("SELECT 1 FROM ipam.pending_allocation WHERE subnet_id = $1", [Number(subnet.id)])).rowCount).toBe(0);
    const after = await checkInvariants(db.url, { subnetIds: [subnet.id] });
    expect(after.violations).toEqual([]);
    expect([after.allocations, after.addresses]).toEqual([before.allocations - 1 + served.length, before.addresses - held + served.length]);
    // The history says what happened: shrinks, then the release.
    const actions = await admin.query<{ action: string }>("SELECT action FROM ipam.audit_event WHERE allocation_id = $1 ORDER BY id", [bulk.allocation.id]);
    expect(actions.rows.map((row) => row.action).slice(-4)).toEqual(["shrink", "shrink", "shrink", "release"]);
  });

  it("leave a pending bulk whose lease is running alone", async () => {
    const { ipam, admin } = context;
    const subnet = await ipam.createSubnet({ cidr: "10.62.0.0/22", namespace: "reap" });
    const bulk = await ipam.allocate({ subnetId: subnet.id, owner: "alive", strategy: "random", count: 100 });
    await admin.query("INSERT INTO ipam.pending_allocation (allocation_id, subnet_id, target_count, lease_until) VALUES ($1, $2, $3, now() + interval '10 minutes')", [
      bulk.allocation.id,
      Number(subnet.id),
      200,
    ]);
    await ipam.allocate({ subnetId: subnet.id, owner: "next" });
    const left = await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM ipam.allocated_address WHERE allocation_id = $1", [bulk.allocation.id]);
    expect(left.rows[0]!.n).toBe(100);
  });
});

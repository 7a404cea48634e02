import { describe, expect, it } from "vitest";
import { useTestIpam } from "../helpers/openTestIpam.js";
import { failure } from "../helpers/failure.js";

// Claims (migration 0004, README "Claims"): the latest of several claimants of one subnet or
// allocation is the only one whose release or delete acts. This is what keeps a forced Pulumi
// replacement (create the new resource with the same key, then delete the old one) from freeing
// what the new resource holds.
const context = useTestIpam("claims");

describe("allocation claims", () => {
  it("a replay with a new claim supersedes the old claimant's release", async () => {
    const { ipam } = context;
    const subnet = await ipam.createSubnet({ cidr: "10.10.0.0/24", namespace: "claims-a" });
    for (const shape of [{}, { strategy: "random" as const }, { address: "10.10.0.77" }, { count: 3 }]) {
      const request = { subnetId: subnet.id, owner: "org/proj/stack/web", idempotencyKey: `web#${JSON.stringify(shape)}`, ...shape };
      const first = await ipam.allocate({ ...request, claim: "claim-1" });
      expect(first.created).toBe(true);
      const second = await ipam.allocate({ ...request, claim: "claim-2" });
      expect(second).toMatchObject({ created: false, allocation: { id: first.allocation.id, addresses: first.allocation.addresses, claim: "claim-2" } });

      const stale = await ipam.release(first.allocation.id, { claim: "claim-1" });
      expect(stale).toEqual({ released: false, addresses: [], superseded: true });
      expect((await ipam.getAllocation(first.allocation.id)).addresses).toEqual(first.allocation.addresses);
      for (const address of first.allocation.addresses) expect((await ipam.whoHolds(subnet.id, address))?.id).toBe(first.allocation.id);

      expect(await ipam.release(first.allocation.id, { claim: "claim-2" })).toMatchObject({ released: true, addresses: first.allocation.addresses });
    }
    expect((await ipam.usage(subnet.id)).allocated).toBe("0");
  });

  it("with no second claimant yet, a claim releases; without a claim (an operator) release always acts", async () => {
    const { ipam } = context;
    const subnet = await ipam.createSubnet({ cidr: "10.11.0.0/24", namespace: "claims-b" });
    const once = await ipam.allocate({ subnetId: subnet.id, owner: "o", idempotencyKey: "once", claim: "only" });
    expect(await ipam.release(once.allocation.id, { claim: "anything" })).toMatchObject({ released: true });

    const twice = await ipam.allocate({ subnetId: subnet.id, owner: "o", idempotencyKey: "twice", claim: "c1" });
    await ipam.allocate({ subnetId: subnet.id, owner: "o", idempotencyKey: "twice", claim: "c2" });
    expect(await ipam.release(twice.allocation.id)).toMatchObject({ released: true });
  });

  it("after a release the key allocates afresh and the history records each claim", async () => {
    const { ipam } = context;
    const subnet = await ipam.createSubnet({ cidr: "10.12.0.0/24", namespace: "claims-c" });
    const request = { subnetId: subnet.id, owner: "o", idempotencyKey: "k" };
    const first = await ipam.allocate({ ...request, claim: "a" });
    await ipam.allocate({ ...request, claim: "b" });
    await ipam.release(first.allocation.id, { claim: "b" });
    const again = await ipam.allocate({ ...request, claim: "c" });
    expect(again.created).toBe(true);
    expect(again.allocation.id).not.toBe(first.allocation.id);
    const { events } = await ipam.history({ subnetId: subnet.id });
    expect(events.map((event) => event.action).sort()).toEqual(["allocate", "allocate", "claim", "release", "subnet.create"].sort());
  });

  it("a superseded claimant cannot resize or retag: SUPERSEDED, nothing changes", async () => {
    const { ipam } = context;
    const subnet = await ipam.createSubnet({ cidr: "10.14.0.0/24", namespace: "claims-e" });
    const request = { subnetId: subnet.id, owner: "o", idempotencyKey: "k", count: 2, tags: { v: "1" } };
    const { allocation } = await ipam.allocate({ ...request, claim: "old" });
    await ipam.allocate({ ...request, claim: "new" });
    // Thunks, not promises: each attempt starts only when the previous one has been checked.
    for (const attempt of [
      () => ipam.resizeAllocation({ allocationId: allocation.id, count: 1, claim: "old" }),
      () => ipam.resizeAllocation({ allocationId: allocation.id, count: 5, claim: "old" }),
      () => ipam.updateAllocation({ allocationId: allocation.id, tags: { v: "2" }, claim: "old" }),
    ]) {
      const error = await failure(attempt());
      expect(error).toMatchObject({ code: "SUPERSEDED", retryable: false });
      expect(error.message).toContain(`allocation ${allocation.id} is held by a newer claimant`);
    }
    expect(await ipam.getAllocation(allocation.id)).toMatchObject({ addresses: allocation.addresses, tags: { v: "1" } });
    expect((await ipam.resizeAllocation({ allocationId: allocation.id, count: 3, claim: "new" })).allocation.addresses).toHaveLength(3);

    const net = await ipam.createSubnet({ cidr: "10.15.0.0/24", namespace: "claims-e", idempotencyKey: "net", claim: "a" });
    await ipam.createSubnet({ cidr: "10.15.0.0/24", namespace: "claims-e", idempotencyKey: "net", claim: "b" });
    expect((await failure(ipam.updateSubnet(net.id, { description: "stale" }, { claim: "a" }))).code).toBe("SUPERSEDED");
    expect((await ipam.getSubnet(net.id)).description).toBe("");
    expect((await ipam.updateSubnet(net.id, { description: "fresh" }, { claim: "b" })).subnet.description).toBe("fresh");
  });

  it("adoption takes over owner and claim; the previous holder's release is superseded", async () => {
    const { ipam } = context;
    const subnet = await ipam.createSubnet({ cidr: "10.13.0.0/24", namespace: "claims-d" });
    const manual = await ipam.allocate({ subnetId: subnet.id, owner: "cli/ops", address: "10.13.0.9" });
    const adopted = await ipam.adoptAllocation({ allocationId: manual.allocation.id, owner: "org/p/s/db", claim: "adopter" });
    expect(adopted).toMatchObject({ id: manual.allocation.id, owner: "org/p/s/db", claim: "adopter", addresses: ["10.13.0.9"] });
    expect(await ipam.release(manual.allocation.id, { claim: "old-holder" })).toMatchObject({ superseded: true });
    const { events } = await ipam.history({ subnetId: subnet.id });
    expect(events.find((event) => event.action === "adopt")).toMatchObject({ owner: "org/p/s/db", detail: { previousOwner: "cli/ops" } });
    expect((await failure(ipam.adoptAllocation({ allocationId: "999999", owner: "o", claim: "c" }))).code).toBe("NOT_FOUND");
    const bad = await failure(ipam.adoptAllocation({ allocationId: manual.allocation.id, owner: "o", claim: "" }));
    expect(bad.message).toContain("claim: must not be empty");
  });
});

describe("subnet idempotency and claims", () => {
  it("a retried top-level create returns the same subnet instead of an overlap; another CIDR under the key is refused", async () => {
    const { ipam } = context;
    const request = { cidr: "10.20.0.0/24", namespace: "claims-s", idempotencyKey: "org/p/net/main#claims-s#10.20.0.0/24" };
    const first = await ipam.createSubnet({ ...request, claim: "s1" });
    const retry = await ipam.createSubnet({ ...request, claim: "s2" });
    expect(retry).toMatchObject({ id: first.id, cidr: "10.20.0.0/24", claim: "s2", idempotencyKey: request.idempotencyKey });
    const mismatch = await failure(ipam.createSubnet({ ...request, cidr: "10.21.0.0/24" }));
    expect(mismatch.code).toBe("IDEMPOTENCY_MISMATCH");
    // Without the key the same CIDR is an overlap, as before.
    expect((await failure(ipam.createSubnet({ cidr: "10.20.0.0/24", namespace: "claims-s" }))).code).toBe("OVERLAP");
    // The key is scoped to the namespace.
    const elsewhere = await ipam.createSubnet({ ...request, namespace: "claims-s2" });
    expect(elsewhere.id).not.toBe(first.id);

    expect(await ipam.deleteSubnet(first.id, { claim: "s1" })).toEqual({ deleted: false, superseded: true });
    expect((await ipam.getSubnet(first.id)).cidr).toBe("10.20.0.0/24");
    expect(await ipam.deleteSubnet(first.id, { claim: "s2" })).toEqual({ deleted: true });
  });

  it("concurrent creates with one key make one subnet", async () => {
    const { ipam } = context;
    const request = { cidr: "10.30.0.0/24", namespace: "claims-race", idempotencyKey: "race" };
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => ipam.createSubnet({ ...request, claim: `c${i}` })));
    expect(new Set(results.map((subnet) => subnet.id)).size).toBe(1);
    expect((await ipam.listSubnets({ namespace: "claims-race" })).length).toBe(1);
  });

  it("a replayed child records its claim; the old claimant's delete is superseded", async () => {
    const { ipam } = context;
    const parent = await ipam.createSubnet({ cidr: "10.40.0.0/16", namespace: "claims-child" });
    const request = { parentId: parent.id, prefixLength: 24, idempotencyKey: "team-a" };
    const first = await ipam.createSubnet({ ...request, claim: "k1" });
    const second = await ipam.createSubnet({ ...request, claim: "k2" });
    expect(second).toMatchObject({ id: first.id, cidr: first.cidr, claim: "k2" });
    expect(await ipam.deleteSubnet(first.id, { claim: "k1" })).toEqual({ deleted: false, superseded: true });
    expect((await ipam.listChildren(parent.id)).subnets.map((child) => child.id)).toEqual([first.id]);
    expect(await ipam.deleteSubnet(first.id, { claim: "k2" })).toEqual({ deleted: true });
    expect((await ipam.listChildren(parent.id)).subnets).toEqual([]);
  });
});

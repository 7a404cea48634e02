import { describe, expect, it } from "vitest";
import { urnOf, type Props } from "../../harness/providerHost.js";
import { useProviderHost } from "../helpers/providerTestContext.js";

// Issue 13 item 7: a replay of an idempotency key that asks for something else (another owner,
// count, gateway) returned the first result as if it were what was asked. The store now refuses
// it naming the fields; the provider, whose create is retried after a crash with the program's
// current inputs, converges instead: it takes the first attempt's allocation back and resizes it.
const context = useProviderHost("provreplay");
const { up } = context;

const subnetUrn = (name: string) => urnOf("ipam:Subnet", name);
const allocUrn = (name: string) => urnOf("ipam:IpAllocation", name);
const subnetProps = (name: string, p: Props) => ({ __provider: context.P.subnet, __owner: context.P.ownerOf(name), __scope: "org", ...p });
const allocProps = (name: string, p: Props) => ({ __provider: context.P.allocation, __owner: context.P.ownerOf(name), __scope: "org", ...p });

describe("an idempotent replay that asks for something else", () => {
  it("is IDEMPOTENCY_MISMATCH naming owner, count, strategy or address; claim, description and tags may differ", async () => {
    const ipam = context.direct;
    const subnet = await ipam.createSubnet({ cidr: "10.66.0.0/24", namespace: "replay" });
    const first = await ipam.allocate({ subnetId: subnet.id, owner: "a/one", count: 5, idempotencyKey: "k1" });
    const mismatch = (input: Record<string, unknown>) =>
      ipam.allocate({ subnetId: subnet.id, owner: "a/one", count: 5, idempotencyKey: "k1", ...input } as never).catch((e: unknown) => e);
    expect(await mismatch({ owner: "b/two" })).toMatchObject({ code: "IDEMPOTENCY_MISMATCH", fields: ["owner"] });
    expect(await mismatch({ count: 1 })).toMatchObject({ code: "IDEMPOTENCY_MISMATCH", fields: ["count"] });
    expect(await mismatch({ count: 50, owner: "b/two" })).toMatchObject({ code: "IDEMPOTENCY_MISMATCH", fields: ["owner", "count"] });
    expect(await mismatch({ strategy: "random" })).toMatchObject({ code: "IDEMPOTENCY_MISMATCH", fields: ["strategy"] });
    const message = ((await mismatch({ count: 1 })) as Error).message;
    expect(message).toContain("count 5");
    expect(message).toContain("count 1");
    const same = await ipam.allocate({ subnetId: subnet.id, owner: "a/one", count: 5, idempotencyKey: "k1", description: "other", tags: { x: "y" }, claim: "c2" });
    expect(same).toMatchObject({ created: false, allocation: { id: first.allocation.id, addresses: first.allocation.addresses } });
    // The next-free path (one address, sequential) replays through its own statement.
    await ipam.allocate({ subnetId: subnet.id, owner: "a/one", idempotencyKey: "k2" });
    expect(await ipam.allocate({ subnetId: subnet.id, owner: "c/three", idempotencyKey: "k2" }).catch((e: unknown) => e)).toMatchObject({
      code: "IDEMPOTENCY_MISMATCH",
      fields: ["owner"],
    });
    expect((await ipam.listAllocations({ subnetId: subnet.id })).allocations.map((a) => a.addresses.length)).toEqual([5, 1]);
  });

  it("a top-level subnet replay with another gateway, pools or rules is refused naming them; another description is not", async () => {
    const ipam = context.direct;
    const first = await ipam.createSubnet({ cidr: "10.67.0.0/24", namespace: "replay", gateway: "10.67.0.1", idempotencyKey: "s1" });
    const again = (input: Record<string, unknown>) =>
      ipam.createSubnet({ cidr: "10.67.0.0/24", namespace: "replay", gateway: "10.67.0.1", idempotencyKey: "s1", ...input } as never).catch((e: unknown) => e);
    expect(await again({ gateway: "10.67.0.254" })).toMatchObject({ code: "IDEMPOTENCY_MISMATCH", fields: ["gateway"] });
    expect(await again({ allocationPools: [{ start: "10.67.0.10", end: "10.67.0.20" }], childrenOnly: true })).toMatchObject({
      code: "IDEMPOTENCY_MISMATCH",
      fields: ["allocationPools", "childrenOnly"],
    });
    expect(await again({ description: "renamed", tags: { a: "b" } })).toMatchObject({ id: first.id });
  });

  it("the provider converges: a create retried with another count gets the first allocation back at the new count", async () => {
    const subnet = await up(subnetUrn("cv-net"), subnetProps("cv-net", { cidr: "10.68.0.0/24" }));
    const first = await up(allocUrn("cv"), allocProps("cv", { subnetId: subnet.id, count: 5 }));
    expect(first.properties.addresses).toHaveLength(5);
    for (const count of [2, 8]) {
      // The engine lost the first create's answer; the program now asks for another count and description.
      const retried = await up(allocUrn("cv"), allocProps("cv", { subnetId: subnet.id, count, description: `count ${count}` }));
      expect(retried.id).toBe(first.id);
      expect(retried.properties).toMatchObject({ count, description: `count ${count}` });
      expect(retried.properties.addresses).toHaveLength(count);
      const stored = await context.direct.getAllocation(first.id);
      expect(stored.addresses).toEqual(retried.properties.addresses);
      expect(stored.description).toBe(`count ${count}`);
    }
    expect((await context.direct.listAllocations({ subnetId: subnet.id })).allocations).toHaveLength(1);
    // Another strategy is another request: a fresh key, a fresh allocation (REPLACE_ON), never a resize.
    const random = await up(allocUrn("cv"), allocProps("cv", { subnetId: subnet.id, count: 2, strategy: "random" }));
    expect(random.id).not.toBe(first.id);
  });
});

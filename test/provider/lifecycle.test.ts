import { describe, expect, it } from "vitest";
import { urnOf, type Props } from "../../harness/providerHost.js";
import { ciHostEnv, useProviderHost } from "../helpers/providerTestContext.js";

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const context = useProviderHost("provlife", { env: ciHostEnv() });
const subnetUrn = urnOf("ipam:Subnet", "net");
const allocUrn = urnOf("ipam:IpAllocation", "web");

const subnetProps = (p: Props) => ({ __provider: context.P.subnet, ...p });
const allocProps = (p: Props) => ({ __provider: context.P.allocation, __owner: context.P.ownerOf("web"), ...p });
const up = (urn: string, news: Props) => context.up(urn, news);

describe("Subnet and IpAllocation through the SDK host", () => {
  let subnet: { id: string; properties: Props };
  let alloc: { id: string; properties: Props };

  it("check reports bad input as failures naming the property, and skips unknowns", async () => {
    const bad = await context.host.check(subnetUrn, {}, subnetProps({ cidr: "10.0.0.1/24" }));
    expect(bad.failures.map((f) => f.property)).toContain("cidr");
    const badAlloc = await context.host.check(allocUrn, {}, allocProps({ subnetId: "1", count: 0 }));
    expect(badAlloc.failures.map((f) => f.property)).toContain("count");
    const unknown = await context.host.check(allocUrn, {}, allocProps({ subnetId: UNKNOWN, count: 2 }));
    expect(unknown.failures).toEqual([]);
    expect(await context.direct.listSubnets()).toEqual([]); // check never writes
  });

  it("check (so preview) refuses a new CIDR around the IPv4-mapped range as create would, and keeps an existing one", async () => {
    const mapped = await context.host.check(subnetUrn, {}, subnetProps({ cidr: "::/80" }));
    expect(mapped.failures).toEqual([{ property: "cidr", reason: expect.stringContaining("::ffff:0:0/96") }]);
    const replaced = await context.host.check(subnetUrn, { cidr: "2001:db8::/64" }, subnetProps({ cidr: "::/64" }));
    expect(replaced.failures.map((f) => f.property)).toEqual(["cidr"]);
    // A subnet an earlier release created at ::/80 still passes Check when its CIDR is unchanged.
    const kept = await context.host.check(subnetUrn, { cidr: "::/80" }, subnetProps({ cidr: "::/80", description: "edited" }));
    expect(kept.failures).toEqual([]);
  });

  it("preview then up creates the subnet and an allocation with owner and gateway", async () => {
    subnet = await up(subnetUrn, subnetProps({ cidr: "10.0.0.0/24", gateway: "10.0.0.1", tags: { env: "test" } }));
    expect(subnet.properties).toMatchObject({ subnetId: subnet.id, ipVersion: 4, size: "256", gateway: "10.0.0.1" });
    alloc = await up(allocUrn, allocProps({ subnetId: subnet.id, count: 2 }));
    expect(alloc.properties).toMatchObject({ address: "10.0.0.2", addresses: ["10.0.0.2", "10.0.0.3"], prefixLength: 24, gateway: "10.0.0.1", owner: "proj/dev/web" });
  });

  it("a retried create (after a crash) returns the same addresses", async () => {
    const again = await context.host.create(allocUrn, allocProps({ subnetId: subnet.id, count: 2 }));
    expect(again.id).toBe(alloc.id);
    expect(again.properties.addresses).toEqual(alloc.properties.addresses);
    // The engine checkpoints the retry's outputs: the first attempt's were never saved.
    alloc = again;
  });

  it("diff: description/tags/pools update; cidr/namespace replace (deleteBeforeReplace on overlap, refused while the subnet holds allocations)", async () => {
    const olds = subnet.properties;
    const upd = await context.host.diff(subnetUrn, subnet.id, olds, subnetProps({ cidr: "10.0.0.0/24", gateway: "10.0.0.1", tags: { env: "prod" } }));
    expect(upd).toMatchObject({ changes: 2, replaces: [] });
    const before = await context.direct.listAllocations({ subnetId: subnet.id });
    const refused = await context.host.diff(subnetUrn, subnet.id, olds, subnetProps({ cidr: "10.0.0.0/23", gateway: "10.0.0.1" })).catch((e: Error) => e);
    expect((refused as Error).message).toContain(`subnet ${subnet.id} (10.0.0.0/24) cannot be replaced by 10.0.0.0/23 while it holds 1 allocation (first: 10.0.0.2 (proj/dev/web))`);
    expect(await context.direct.listAllocations({ subnetId: subnet.id })).toEqual(before);
    // An empty subnet is replaced delete-first, as before.
    const emptyUrn = urnOf("ipam:Subnet", "empty");
    const empty = await up(emptyUrn, subnetProps({ cidr: "10.0.8.0/24" }));
    const rep = await context.host.diff(emptyUrn, empty.id, empty.properties, subnetProps({ cidr: "10.0.8.0/23" }));
    expect(rep.replaces).toEqual(["cidr"]);
    expect(rep.deleteBeforeReplace).toBe(true);
    await context.host.delete(emptyUrn, empty.id, empty.properties);
    const repNs = await context.host.diff(subnetUrn, subnet.id, olds, subnetProps({ cidr: "10.0.0.0/24", namespace: "other", gateway: "10.0.0.1" }));
    expect(repNs.replaces).toEqual(["namespace"]);
    expect(repNs.deleteBeforeReplace).toBe(false);
    const same = await context.host.diff(subnetUrn, subnet.id, olds, subnetProps({ cidr: "10.0.0.0/24", gateway: "10.0.0.1", tags: { env: "test" } }));
    expect(same.changes).toBe(1); // DIFF_NONE
  });

  it("count up keeps addresses and adds; count down releases the highest; tags update in place", async () => {
    let d = await context.host.diff(allocUrn, alloc.id, alloc.properties, allocProps({ subnetId: subnet.id, count: 3 }));
    expect(d).toMatchObject({ changes: 2, replaces: [] });
    let u = await context.host.update(allocUrn, alloc.id, alloc.properties, allocProps({ subnetId: subnet.id, count: 3 }));
    expect(u.properties.addresses).toEqual(["10.0.0.2", "10.0.0.3", "10.0.0.4"]);
    u = await context.host.update(allocUrn, alloc.id, u.properties, allocProps({ subnetId: subnet.id, count: 1, tags: { role: "web" } }));
    expect(u.properties.addresses).toEqual(["10.0.0.2"]);
    expect(u.properties.tags).toEqual({ role: "web" });
    expect(await context.direct.whoHolds(subnet.id, "10.0.0.4")).toBeNull();
    alloc = { id: alloc.id, properties: u.properties };
  });

  it("preview with unknown inputs: diff treats an unknown subnetId as a replacement, writes nothing", async () => {
    const before = await context.direct.listAllocations({ subnetId: subnet.id });
    const d = await context.host.diff(allocUrn, alloc.id, alloc.properties, allocProps({ subnetId: UNKNOWN, count: 1, tags: { role: "web" } }));
    expect(d.replaces).toEqual(["subnetId"]);
    const dTags = await context.host.diff(allocUrn, alloc.id, alloc.properties, allocProps({ subnetId: subnet.id, count: 1, tags: UNKNOWN }));
    expect(dTags).toMatchObject({ changes: 2, replaces: [] });
    expect(await context.direct.listAllocations({ subnetId: subnet.id })).toEqual(before);
  });

  it("replace: strategy change creates the new allocation before deleting the old one, with distinct addresses", async () => {
    const news = allocProps({ subnetId: subnet.id, count: 1, tags: { role: "web" }, strategy: "random" });
    const d = await context.host.diff(allocUrn, alloc.id, alloc.properties, news);
    expect(d.replaces).toEqual(["strategy"]);
    expect(d.deleteBeforeReplace).toBe(false);
    const checked = await context.host.check(allocUrn, {}, news);
    const created = await context.host.create(allocUrn, checked.inputs);
    expect(created.id).not.toBe(alloc.id);
    expect(created.properties.address).not.toBe(alloc.properties.address);
    await context.host.delete(allocUrn, alloc.id, alloc.properties);
    expect(await context.direct.whoHolds(subnet.id, String(alloc.properties.address))).toBeNull();
    alloc = created;
  });

  it("specific address kept in the same subnet replaces delete-first", async () => {
    const d = await context.host.diff(allocUrn, alloc.id, alloc.properties, allocProps({ subnetId: subnet.id, address: alloc.properties.address }));
    expect(d.replaces).toContain("address");
    expect(d.deleteBeforeReplace).toBe(true);
  });

  it("refresh sees external pool edits; diff then shows the change", async () => {
    await context.direct.updateSubnet(subnet.id, { description: "edited outside" });
    const r = await context.host.read(subnetUrn, subnet.id, subnet.properties, subnet.properties);
    expect(r.properties.description).toBe("edited outside");
    const d = await context.host.diff(subnetUrn, subnet.id, r.properties, subnetProps({ cidr: "10.0.0.0/24", gateway: "10.0.0.1", tags: { env: "test" } }));
    expect(d.changes).toBe(2);
  });

  it("deleting a subnet with allocations fails naming the holders", async () => {
    await expect(context.host.delete(subnetUrn, subnet.id, subnet.properties)).rejects.toThrow(/proj\/dev\/web/);
  });

  it("adopt takes over an allocation made outside Pulumi", async () => {
    const { allocation } = await context.direct.allocate({ subnetId: subnet.id, owner: "cli", address: "10.0.0.50" });
    const adopted = await up(urnOf("ipam:IpAllocation", "db"), allocProps({ subnetId: subnet.id, address: "10.0.0.50", adopt: true }));
    expect(adopted.id).toBe(allocation.id);
    expect(adopted.properties.addresses).toEqual(["10.0.0.50"]);
    const noAddr = await context.host.check(allocUrn, {}, allocProps({ subnetId: subnet.id, adopt: true }));
    expect(noAddr.failures.map((f) => f.property)).toEqual(["adopt"]);
    await context.host.delete(allocUrn, adopted.id, adopted.properties);
  });

  it("refresh of an allocation released outside Pulumi returns a blank id", async () => {
    await context.direct.release(alloc.id);
    const r = await context.host.read(allocUrn, alloc.id, alloc.properties, alloc.properties);
    expect(r.id).toBe("");
  });

  it("destroy: deleting the allocation then the subnet", async () => {
    await context.host.delete(allocUrn, alloc.id, alloc.properties); // already released: harmless
    await context.host.delete(subnetUrn, subnet.id, subnet.properties);
    expect(await context.direct.listSubnets()).toEqual([]);
  });

  it("never shows the database URL in host output", () => {
    expect(context.host.output()).not.toContain(new URL(context.db.url).host + new URL(context.db.url).pathname);
  });
});

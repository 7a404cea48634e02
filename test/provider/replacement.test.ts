import { describe, expect, it } from "vitest";
import { urnOf, type Props } from "../../harness/providerHost.js";
import { useProviderHost } from "../helpers/providerTestContext.js";

// What the engine does on `pulumi up --replace` (and on any replacement whose inputs ask for the
// same thing): Check with empty olds, Create the new resource, then Delete the old one, in that
// order. With the same inputs the new resource's idempotency key equals the old one's, so the
// create gets the same subnet or allocation back; the old resource's delete must then not free it.
const context = useProviderHost("provreplace");
const { up } = context;

const subnetUrn = (name: string) => urnOf("ipam:Subnet", name);
const allocUrn = (name: string) => urnOf("ipam:IpAllocation", name);
const subnetProps = (name: string, p: Props) => ({ __provider: context.P.subnet, __owner: context.P.ownerOf(name), __scope: "org", ...p });
const allocProps = (name: string, p: Props) => ({ __provider: context.P.allocation, __owner: context.P.ownerOf(name), __scope: "org", ...p });

describe("forced replacement with unchanged inputs (create before delete)", () => {
  it("an allocation keeps its addresses: the old resource's delete is superseded, its refresh says gone", async () => {
    const subnet = await up(subnetUrn("r-net"), subnetProps("r-net", { cidr: "10.50.0.0/24" }));
    for (const [name, extra] of [["seq", { count: 3 }], ["rnd", { strategy: "random", count: 2 }], ["fixed", { address: "10.50.0.99" }]] as const) {
      const news = allocProps(name, { subnetId: subnet.id, ...extra });
      const old = await up(allocUrn(name), news);
      const replacement = await up(allocUrn(name), news);
      expect(replacement.id).toBe(old.id);
      expect(replacement.properties.addresses).toEqual(old.properties.addresses);
      await context.host.delete(allocUrn(name), old.id, old.properties);

      for (const address of old.properties.addresses as string[]) expect((await context.direct.whoHolds(subnet.id, address))?.id).toBe(old.id);
      expect((await context.host.read(allocUrn(name), old.id, old.properties, old.properties)).id).toBe("");
      const refreshed = await context.host.read(allocUrn(name), replacement.id, replacement.properties, replacement.properties);
      expect(refreshed).toMatchObject({ id: replacement.id, properties: { addresses: old.properties.addresses } });
      // The refreshed state diffs clean against the same program: a refresh never invents a change.
      expect((await context.host.diff(allocUrn(name), replacement.id, refreshed.properties, news)).changes).toBe(1);

      await context.host.delete(allocUrn(name), replacement.id, replacement.properties);
      for (const address of old.properties.addresses as string[]) expect(await context.direct.whoHolds(subnet.id, address)).toBeNull();
    }
  });

  it("a subnet is returned, not refused as overlapping itself, and survives the old resource's delete", async () => {
    const news = subnetProps("r-lan", { cidr: "10.51.0.0/24", gateway: "10.51.0.1" });
    const old = await up(subnetUrn("r-lan"), news);
    const diff = await context.host.diff(subnetUrn("r-lan"), old.id, old.properties, news);
    expect(diff).toMatchObject({ changes: 1, replaces: [] });
    const replacement = await up(subnetUrn("r-lan"), news);
    expect(replacement.id).toBe(old.id);
    const alloc = await up(allocUrn("r-lan-web"), allocProps("r-lan-web", { subnetId: replacement.id }));
    await context.host.delete(subnetUrn("r-lan"), old.id, old.properties);
    expect((await context.direct.getSubnet(old.id)).cidr).toBe("10.51.0.0/24");
    expect((await context.host.read(subnetUrn("r-lan"), old.id, old.properties, old.properties)).id).toBe("");
    expect((await context.host.read(subnetUrn("r-lan"), replacement.id, replacement.properties, replacement.properties)).id).toBe(replacement.id);
    await context.host.delete(allocUrn("r-lan-web"), alloc.id, alloc.properties);
    await context.host.delete(subnetUrn("r-lan"), replacement.id, replacement.properties);
    expect((await context.direct.listSubnets()).map((s) => s.cidr)).not.toContain("10.51.0.0/24");
  });

  it("a subnet create retried after a crash returns the first attempt's subnet", async () => {
    const news = subnetProps("crash-net", { cidr: "2001:db8:51::/64" });
    const first = await up(subnetUrn("crash-net"), news);
    const retried = await up(subnetUrn("crash-net"), news);
    expect(retried).toMatchObject({ id: first.id, properties: { cidr: "2001:db8:51::/64" } });
    // Another stack declaring the same CIDR is still refused: the key is per resource.
    await expect(up(subnetUrn("crash-net"), subnetProps("other-net", { cidr: "2001:db8:51::/64" }))).rejects.toThrow(/OVERLAP/);
    await context.host.delete(subnetUrn("crash-net"), retried.id, retried.properties);
  });

  it("a replacement that asks for something else gets a fresh allocation and frees the old one", async () => {
    const subnet = await up(subnetUrn("r2-net"), subnetProps("r2-net", { cidr: "10.52.0.0/24" }));
    const old = await up(allocUrn("web"), allocProps("web", { subnetId: subnet.id, address: "10.52.0.10" }));
    const moved = await up(allocUrn("web"), allocProps("web", { subnetId: subnet.id, address: "10.52.0.11" }));
    expect(moved.id).not.toBe(old.id);
    await context.host.delete(allocUrn("web"), old.id, old.properties);
    expect(await context.direct.whoHolds(subnet.id, "10.52.0.10")).toBeNull();
    expect((await context.direct.whoHolds(subnet.id, "10.52.0.11"))?.id).toBe(moved.id);
  });
});

describe("identity and adoption", () => {
  it("equally named resources under different parents (scopes) never share an allocation", async () => {
    const subnet = await up(subnetUrn("scope-net"), subnetProps("scope-net", { cidr: "10.53.0.0/24" }));
    const a = await up(allocUrn("gw"), { ...allocProps("gw", { subnetId: subnet.id }), __scope: "org|urn:pulumi:dev::proj::my:Vpc::a" });
    const b = await up(allocUrn("gw"), { ...allocProps("gw", { subnetId: subnet.id }), __scope: "org|urn:pulumi:dev::proj::my:Db::b" });
    expect(b.id).not.toBe(a.id);
    expect(b.properties.address).not.toBe(a.properties.address);
  });

  it("adopting another stack's allocation moves it: new owner, the old stack's refresh says gone and its delete frees nothing", async () => {
    const subnet = await up(subnetUrn("adopt-net"), subnetProps("adopt-net", { cidr: "10.54.0.0/24" }));
    const original = await up(allocUrn("legacy"), { ...allocProps("legacy", { subnetId: subnet.id, address: "10.54.0.20" }), __owner: "old-proj/prod/legacy" });
    const adopted = await up(allocUrn("db"), allocProps("db", { subnetId: subnet.id, address: "10.54.0.20", adopt: true }));
    expect(adopted).toMatchObject({ id: original.id, properties: { owner: context.P.ownerOf("db"), addresses: ["10.54.0.20"] } });
    expect((await context.host.read(allocUrn("legacy"), original.id, original.properties, original.properties)).id).toBe("");
    // Without a refresh, the old stack's next up may try to change it: refused, nothing changes.
    const stale = context.host.update(allocUrn("legacy"), original.id, original.properties, { ...allocProps("legacy", { subnetId: subnet.id, address: "10.54.0.20" }), tags: { stolen: "yes" } });
    await expect(stale).rejects.toThrow(/SUPERSEDED/);
    expect((await context.direct.getAllocation(original.id)).tags).toEqual({});
    await context.host.delete(allocUrn("legacy"), original.id, original.properties);
    expect((await context.direct.whoHolds(subnet.id, "10.54.0.20"))?.owner).toBe(context.P.ownerOf("db"));
    await context.host.delete(allocUrn("db"), adopted.id, adopted.properties);
    expect(await context.direct.whoHolds(subnet.id, "10.54.0.20")).toBeNull();
  });
});

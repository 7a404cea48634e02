import { describe, expect, it } from "vitest";
import { urnOf, type Props } from "../../harness/providerHost.js";
import { useProviderHost } from "../helpers/providerTestContext.js";

// Child subnets (issue 7) as the engine drives them: `Subnet` with `parentId` and `prefixLength`.
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const context = useProviderHost("provchild");
const { up } = context;

const urn = (name: string) => urnOf("ipam:Subnet", name);
const subnetProps = (name: string, p: Props) => ({ __provider: context.P.subnet, __owner: context.P.ownerOf(name), __scope: "org", ...p });


describe("child subnets through the SDK host", () => {
  const parentInputs = { cidr: "10.60.0.0/16", namespace: "platform", childrenOnly: true, minPrefixLength: 20, maxPrefixLength: 28, defaultPrefixLength: 24 };
  let parent: { id: string; properties: Props };
  let team: { id: string; properties: Props };

  it("check: a child needs no cidr; an unknown parentId (parent not created yet, preview) is skipped; bad rules name the field", async () => {
    expect((await context.host.check(urn("team"), {}, subnetProps("team", { parentId: "7", prefixLength: 22 }))).failures).toEqual([]);
    expect((await context.host.check(urn("team"), {}, subnetProps("team", { parentId: UNKNOWN, prefixLength: 22 }))).failures).toEqual([]);
    const noCidr = await context.host.check(urn("team"), {}, subnetProps("team", { prefixLength: 22 }));
    expect(noCidr.failures.map((f) => f.property)).toEqual(expect.arrayContaining(["cidr", "prefixLength"]));
    const badRule = await context.host.check(urn("p"), {}, subnetProps("p", { cidr: "10.0.0.0/16", minPrefixLength: 12 }));
    expect(badRule.failures).toEqual([expect.objectContaining({ property: "minPrefixLength" })]);
    const gatewayOnCarved = await context.host.check(urn("team"), {}, subnetProps("team", { parentId: "7", prefixLength: 24, gateway: "10.0.0.1" }));
    expect(gatewayOnCarved.failures.map((f) => f.property)).toEqual(["gateway"]);
    expect(await context.direct.listSubnets()).toEqual([]);
  });

  it("up carves the child: its CIDR, prefix length and namespace are outputs", async () => {
    parent = await up("platform", subnetProps("platform", parentInputs));
    expect(parent.properties).toMatchObject({ childrenOnly: true, minPrefixLength: 20, maxPrefixLength: 28, defaultPrefixLength: 24, parentId: null });
    team = await up("team", subnetProps("team", { parentId: parent.id, prefixLength: 22, tags: { team: "payments" } }));
    expect(team.properties).toMatchObject({ cidr: "10.60.0.0/22", prefixLength: 22, parentId: parent.id, namespace: "platform", size: "1024" });
    const byDefault = await up("search", subnetProps("search", { parentId: parent.id }));
    expect(byDefault.properties).toMatchObject({ cidr: "10.60.4.0/24", prefixLength: 24 });
    const specific = await up("edge", subnetProps("edge", { parentId: parent.id, cidr: "10.60.255.0/28", gateway: "10.60.255.1" }));
    expect(specific.properties).toMatchObject({ cidr: "10.60.255.0/28", gateway: "10.60.255.1" });
    expect((await context.direct.usage(parent.id)).childPrefixes).toBe(3);
  });

  it("a retried or forcibly replaced child create gets the same block, and the old resource's delete keeps it", async () => {
    const news = subnetProps("team", { parentId: parent.id, prefixLength: 22, tags: { team: "payments" } });
    const again = await up("team", news);
    expect(again).toMatchObject({ id: team.id, properties: { cidr: "10.60.0.0/22" } });
    await context.host.delete(urn("team"), team.id, team.properties);
    expect((await context.direct.getSubnet(team.id)).cidr).toBe("10.60.0.0/22");
    team = again;
  });

  it("diff: an omitted cidr is no change; parentId and prefixLength replace; rules and tags update in place", async () => {
    const same = subnetProps("team", { parentId: parent.id, prefixLength: 22, tags: { team: "payments" } });
    expect(await context.host.diff(urn("team"), team.id, team.properties, same)).toMatchObject({ changes: 1, replaces: [] });
    // Naming the CIDR it got (in any spelling) is no change either.
    expect((await context.host.diff(urn("team"), team.id, team.properties, { ...same, cidr: "10.60.0.0/22" })).replaces).toEqual([]);
    expect((await context.host.diff(urn("team"), team.id, team.properties, { ...same, prefixLength: 23 })).replaces).toEqual(["prefixLength"]);
    expect((await context.host.diff(urn("team"), team.id, team.properties, { ...same, parentId: UNKNOWN })).replaces).toEqual(["parentId"]);
    const moved = await context.host.diff(urn("team"), team.id, team.properties, { ...same, parentId: "999" });
    expect(moved).toMatchObject({ replaces: ["parentId"], deleteBeforeReplace: false });
    const tags = await context.host.diff(urn("team"), team.id, team.properties, { ...same, tags: { team: "pay" } });
    expect(tags).toMatchObject({ changes: 2, replaces: [] });

    // The parent given a CIDR overlapping its own would be replaced delete-first, its children deleted
    // before it: refused at Diff while it has children, naming them (deleteFirstGuard.ts).
    const grown = await context.host.diff(urn("platform"), parent.id, parent.properties, subnetProps("platform", { ...parentInputs, cidr: "10.60.0.0/15" })).catch((e: Error) => e);
    expect((grown as Error).message).toContain(`subnet ${parent.id} (10.60.0.0/16) cannot be replaced by 10.60.0.0/15 while it holds 3 child subnets (first: ${team.id} (10.60.0.0/22)`);
    expect((await context.direct.listChildren(parent.id)).subnets).toHaveLength(3);

    const rules = subnetProps("platform", { ...parentInputs, maxPrefixLength: 26 });
    expect(await context.host.diff(urn("platform"), parent.id, parent.properties, rules)).toMatchObject({ changes: 2, replaces: [] });
    const updated = await context.host.update(urn("platform"), parent.id, parent.properties, rules);
    expect(updated.properties).toMatchObject({ maxPrefixLength: 26, childrenOnly: true });
    expect((await context.direct.getSubnet(parent.id)).maxPrefixLength).toBe(26);
    parent = { id: parent.id, properties: updated.properties };
  });

  it("rules are enforced with a clear error; a parent with children cannot be deleted", async () => {
    await expect(up("tiny", subnetProps("tiny", { parentId: parent.id, prefixLength: 28 }))).rejects.toThrow(/prefixLength.*26/);
    await expect(context.host.delete(urn("platform"), parent.id, parent.properties)).rejects.toThrow(/child subnet/);
    expect((await context.direct.listChildren(parent.id)).subnets).toHaveLength(3);
  });

  it("destroy returns each child's block to the parent, then removes the parent", async () => {
    for (const child of (await context.direct.listChildren(parent.id)).subnets) {
      // Children made directly through the core have no Pulumi state: the engine's state is just the provider.
      const props = child.id === team.id ? team.properties : { __provider: context.P.subnet };
      await context.host.delete(urn("child"), child.id, props);
    }
    expect((await context.direct.usage(parent.id)).childPrefixes).toBe(0);
    await context.host.delete(urn("platform"), parent.id, parent.properties);
    expect(await context.direct.listSubnets({ namespace: "platform" })).toEqual([]);
  });
});

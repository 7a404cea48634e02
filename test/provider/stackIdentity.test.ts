import { describe, expect, it } from "vitest";
import { urnOf, type Props } from "../../harness/providerHost.js";
import { captureResources } from "../../harness/serializedProviders.js";
import { useProviderHost } from "../helpers/providerTestContext.js";

// Two stacks both called proj/dev in different backends (self-managed backends all report the
// organization "organization"): same owner, same scope, only the stack identity differs.
const context = useProviderHost("stackident");
const SCOPE = "organization";
const stackOne = "11111111-1111-4111-8111-111111111111";
const stackTwo = "22222222-2222-4222-8222-222222222222";

const urn = (name: string) => urnOf("", name);
const subnetProps = (stack: string | undefined, name: string, p: Props) => ({
  __provider: context.P.subnet,
  __owner: context.P.ownerOf(name),
  __scope: SCOPE,
  ...(stack === undefined ? {} : { __stack: stack }),
  ...p,
});
const allocProps = (stack: string | undefined, name: string, p: Props) => ({ ...subnetProps(stack, name, p), __provider: context.P.allocation });

describe("stack identity", () => {
  it("the identity resource makes a random id once; it never changes, updates or replaces", async () => {
    const { Subnet } = await import("../../sdk/index.js");
    const resources = await captureResources(() => {
      new Subnet("net", { cidr: "10.0.0.0/24" });
    });
    const identity = resources.find((r) => r.type.endsWith(":StackIdentity"))!;
    const props = { __provider: identity.inputs.__provider };
    const made = await context.up(urn("pulumi-ipam-stack"), props);
    expect(made.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(made.properties.stackId).toBe(made.id);
    expect((await context.up(urn("pulumi-ipam-stack"), props)).id).not.toBe(made.id); // another stack: another id
    expect((await context.host.diff(urn("pulumi-ipam-stack"), made.id, made.properties, props)).changes).toBe(1); // DIFF_NONE
    expect((await context.host.read(urn("pulumi-ipam-stack"), made.id, made.properties, props)).properties.stackId).toBe(made.id);
    await context.host.delete(urn("pulumi-ipam-stack"), made.id, made.properties);
  });

  it("two stacks with one name share no allocation; a crash-retried create in each returns its own first result; each destroy frees only its own", async () => {
    const pool = await context.up(urn("pool"), subnetProps(stackOne, "pool", { cidr: "10.80.0.0/24" }));
    const first = await context.up(urn("vip"), allocProps(stackOne, "vip", { subnetId: pool.id, count: 2 }));
    const second = await context.up(urn("vip"), allocProps(stackTwo, "vip", { subnetId: pool.id, count: 2 }));
    expect(second.id).not.toBe(first.id);
    expect(second.properties.addresses).not.toEqual(expect.arrayContaining([...(first.properties.addresses as string[])]));
    // The engine checkpoints the retry's outputs (the first attempt's were never saved).
    const one = await context.up(urn("vip"), allocProps(stackOne, "vip", { subnetId: pool.id, count: 2 }));
    const two = await context.up(urn("vip"), allocProps(stackTwo, "vip", { subnetId: pool.id, count: 2 }));
    expect([one.id, one.properties.addresses]).toEqual([first.id, first.properties.addresses]);
    expect([two.id, two.properties.addresses]).toEqual([second.id, second.properties.addresses]);

    await context.host.delete(urn("vip"), one.id, one.properties);
    for (const address of one.properties.addresses as string[]) expect(await context.direct.whoHolds(pool.id, address)).toBeNull();
    for (const address of two.properties.addresses as string[]) expect((await context.direct.whoHolds(pool.id, address))?.id).toBe(two.id);
    await context.host.delete(urn("vip"), two.id, two.properties);
    await context.host.delete(urn("pool"), pool.id, pool.properties);
  });

  it("a top-level subnet of the other stack is refused as OVERLAP, not returned; child subnets of a shared pool are distinct", async () => {
    const firstLan = await context.up(urn("lan"), subnetProps(stackOne, "lan", { cidr: "10.81.0.0/24" }));
    const theirs = await context.host.create(urn("lan"), subnetProps(stackTwo, "lan", { cidr: "10.81.0.0/24" })).catch((e: Error) => e);
    expect(String((theirs as Error).message)).toContain("OVERLAP");
    const mine = await context.up(urn("lan"), subnetProps(stackOne, "lan", { cidr: "10.81.0.0/24" })); // crash retry
    expect(mine.id).toBe(firstLan.id);

    const parent = await context.up(urn("shared"), subnetProps(undefined, "shared", { cidr: "10.82.0.0/16", childrenOnly: true, defaultPrefixLength: 24 }));
    const childOne = await context.up(urn("app"), subnetProps(stackOne, "app", { parentId: parent.id }));
    const firstTwo = await context.up(urn("app"), subnetProps(stackTwo, "app", { parentId: parent.id }));
    expect(firstTwo.id).not.toBe(childOne.id);
    expect(firstTwo.properties.cidr).not.toBe(childOne.properties.cidr);
    const childTwo = await context.up(urn("app"), subnetProps(stackTwo, "app", { parentId: parent.id })); // crash retry
    expect([childTwo.id, childTwo.properties.cidr]).toEqual([firstTwo.id, firstTwo.properties.cidr]);
    await context.host.delete(urn("app"), childOne.id, childOne.properties);
    expect((await context.direct.getSubnet(childTwo.id)).cidr).toBe(childTwo.properties.cidr);
    await context.host.delete(urn("app"), childTwo.id, childTwo.properties);
    await context.host.delete(urn("shared"), parent.id, parent.properties);
    await context.host.delete(urn("lan"), mine.id, mine.properties);
    expect(await context.direct.listSubnets()).toEqual([]);
  });

  it("negative control: without a stack identity (state from before it), the two stacks would share the allocation", async () => {
    const pool = await context.up(urn("pool0"), subnetProps(undefined, "pool0", { cidr: "10.83.0.0/24" }));
    const one = await context.up(urn("vip"), allocProps(undefined, "vip", { subnetId: pool.id }));
    const two = await context.up(urn("vip"), allocProps(undefined, "vip", { subnetId: pool.id }));
    expect(two.id).toBe(one.id);
    await context.host.delete(urn("vip"), two.id, two.properties);
    await context.host.delete(urn("pool0"), pool.id, pool.properties);
  });
});

import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { urnOf, type Props } from "../../harness/providerHost.js";
import { makeCheckout, type Checkout } from "../helpers/checkout.js";
import { databaseFingerprint } from "../helpers/databaseFingerprint.js";
import { asLegacyOutputs, LEGACY_HIDDEN_KEYS } from "../helpers/legacyState.js";
import { useProviderHost } from "../helpers/providerTestContext.js";

// A stack deployed with pulumi-ipam 0.1.0, then run with this release (docs/identity.md, "Upgrading
// from 0.1.0"). Its rows are what 0.1.0 wrote (the SDK sent no __stack, so the keys are 0.1.0's);
// its state is 0.1.0's shape: the provider named by absolute path, no database identity.
const context = useProviderHost("stateupgrade");
const other = useProviderHost("stateupgradeother", {
  // Another database whose ids overlap: where a forgotten IPAM_DATABASE_URL would lead.
  prepare: async ({ direct }) => {
    const subnet = await direct.createSubnet({ cidr: "192.168.9.0/24" });
    for (const owner of ["ops/manual-1", "ops/manual-2"]) await direct.allocate({ subnetId: subnet.id, owner });
  },
});
let checkout: Checkout;
let implementation: string;
beforeAll(async () => {
  checkout = await makeCheckout("infra");
  implementation = join(checkout.packageDir, "dist", "provider", "dynamic", "index.js");
});
afterAll(() => checkout?.remove());

const subnetUrn = urnOf("ipam:Subnet", "lan");
const allocUrn = urnOf("ipam:IpAllocation", "web");
// What 0.1.0's SDK sent: owner and scope, no stack identity.
const subnetInputs = (p: Props = {}) => ({ __provider: context.P.subnet, __owner: context.P.ownerOf("lan"), __scope: "organization", cidr: "10.60.0.0/24", ...p });
const allocInputs = (subnetId: string, p: Props = {}) => ({ __provider: context.P.allocation, __owner: context.P.ownerOf("web"), __scope: "organization", subnetId, count: 2, ...p });

/** A subnet and an allocation as 0.1.0 left them: rows in the database, 0.1.0-shaped outputs in state. */
async function deployedBy010(): Promise<{ subnet: { id: string; properties: Props }; alloc: { id: string; properties: Props } }> {
  const subnet = await context.up(subnetUrn, subnetInputs());
  const alloc = await context.up(allocUrn, allocInputs(subnet.id));
  return {
    subnet: { id: subnet.id, properties: asLegacyOutputs("subnet", subnet.properties, implementation) },
    alloc: { id: alloc.id, properties: asLegacyOutputs("allocation", alloc.properties, implementation) },
  };
}

const hiddenKeys = (props: Props) => Object.keys(props).filter((k) => k.startsWith("__")).sort();

describe("state written by 0.1.0", () => {
  it("has 0.1.0's shape (the hidden keys that release wrote)", async () => {
    const { subnet, alloc } = await deployedBy010();
    expect(hiddenKeys(subnet.properties)).toEqual([...LEGACY_HIDDEN_KEYS.subnet]);
    expect(hiddenKeys(alloc.properties)).toEqual([...LEGACY_HIDDEN_KEYS.allocation]);
    expect(String(alloc.properties.__provider)).toContain(implementation);
    await context.host.delete(allocUrn, alloc.id, alloc.properties);
    await context.host.delete(subnetUrn, subnet.id, subnet.properties);
  });

  it("is refreshed (adopting the database's identity), upgraded by the next update, and destroyed", async () => {
    const { subnet, alloc } = await deployedBy010();
    const identity = await context.direct.installationId();

    // refresh: the host uses the stored (absolute-path) provider, which still exists here.
    const refreshed = await context.host.read(allocUrn, alloc.id, alloc.properties, alloc.properties);
    expect(refreshed.properties).toMatchObject({ addresses: alloc.properties.addresses, __database: identity });

    // preview/up: Diff asks for an Update even with unchanged inputs, to rewrite the state.
    const diff = await context.host.diff(allocUrn, alloc.id, alloc.properties, allocInputs(subnet.id));
    expect(diff).toMatchObject({ changes: 2, replaces: [] });
    const subnetDiff = await context.host.diff(subnetUrn, subnet.id, subnet.properties, subnetInputs());
    expect(subnetDiff).toMatchObject({ changes: 2, replaces: [] });
    const updated = await context.host.update(allocUrn, alloc.id, alloc.properties, allocInputs(subnet.id, { count: 3 }));
    expect(updated.properties).toMatchObject({ __database: identity, __provider: context.P.allocation });
    expect(updated.properties.addresses).toHaveLength(3);
    expect(updated.properties.addresses).toEqual(expect.arrayContaining(alloc.properties.addresses as string[]));
    const upgradedSubnet = await context.host.update(subnetUrn, subnet.id, subnet.properties, subnetInputs());
    expect(upgradedSubnet.properties).toMatchObject({ __database: identity, __provider: context.P.subnet });
    // Once upgraded, the state diffs clean.
    expect((await context.host.diff(allocUrn, alloc.id, updated.properties, allocInputs(subnet.id, { count: 3 }))).changes).toBe(1);

    await context.host.delete(allocUrn, alloc.id, updated.properties);
    await context.host.delete(subnetUrn, subnet.id, upgradedSubnet.properties);
    expect(await context.direct.listSubnets()).toEqual([]);
  });

  it("is destroyed as it stands (the stored provider's path exists), without an update first", async () => {
    const { subnet, alloc } = await deployedBy010();
    await context.host.delete(allocUrn, alloc.id, alloc.properties);
    await context.host.delete(subnetUrn, subnet.id, subnet.properties);
    expect(await context.direct.listSubnets()).toEqual([]);
  });

  it("against another database: refused (the rows under its ids are not the ones it made, or there are none), nothing changes", async () => {
    const { subnet, alloc } = await deployedBy010();
    // Make the other database's ids reach this stack's: its rows under the same ids are someone else's.
    const cover = await other.direct.createSubnet({ cidr: "192.168.10.0/23" });
    const highestSubnetId = async () => Math.max(...(await other.direct.listSubnets()).map((s) => Number(s.id)));
    for (let i = 0; (await highestSubnetId()) < Number(subnet.id); i++) await other.direct.createSubnet({ cidr: `192.168.${20 + i}.0/24` });
    let last = 0;
    while (last < Number(alloc.id)) last = Number((await other.direct.allocate({ subnetId: cover.id, owner: "ops/filler" })).allocation.id);
    expect((await other.direct.getSubnet(subnet.id)).cidr).not.toBe(subnet.properties.cidr);
    expect((await other.direct.getAllocation(alloc.id)).owner).not.toBe(alloc.properties.owner);
    const before = [await databaseFingerprint(context.admin), await databaseFingerprint(other.admin)];
    const attempts = [
      other.host.read(allocUrn, alloc.id, alloc.properties, alloc.properties),
      other.host.read(subnetUrn, subnet.id, subnet.properties, subnet.properties),
      other.host.update(allocUrn, alloc.id, alloc.properties, allocInputs(subnet.id, { count: 1 })),
      other.host.delete(allocUrn, alloc.id, alloc.properties),
      other.host.delete(subnetUrn, subnet.id, subnet.properties),
    ];
    for (const error of await Promise.all(attempts.map((p) => p.then(() => null, (e: Error) => e)))) {
      expect(error?.message).toContain("DATABASE_MISMATCH");
      expect(error?.message).toContain("written before databases had identities");
      expect(error?.message).toContain("ipam:databaseUrl");
    }
    expect([await databaseFingerprint(context.admin), await databaseFingerprint(other.admin)]).toEqual(before);
    await context.host.delete(allocUrn, alloc.id, alloc.properties);
    await context.host.delete(subnetUrn, subnet.id, subnet.properties);
  });

  it("a refresh that finds no row under its id is refused too: a pre-identity resource is never dropped on another database's word", async () => {
    const { subnet, alloc } = await deployedBy010();
    const ghost = { ...alloc.properties };
    const error = await other.host.read(allocUrn, "999999", ghost, ghost).catch((e: Error) => e);
    expect(String((error as Error).message)).toContain("there is no allocation with that id");
    expect(String((error as Error).message)).toContain("pulumi state delete");
    await context.host.delete(allocUrn, alloc.id, alloc.properties);
    await context.host.delete(subnetUrn, subnet.id, subnet.properties);
  });

  it("after the checkout it names is gone: refresh fails as it must, and `pulumi up` (Diff, Update through the new provider) repairs it", async () => {
    const moved = await makeCheckout("gone");
    const path = join(moved.packageDir, "dist", "provider", "dynamic", "index.js");
    const subnet = await context.up(subnetUrn, subnetInputs({ cidr: "10.61.0.0/24" }));
    const alloc = await context.up(allocUrn, allocInputs(subnet.id));
    const legacy = asLegacyOutputs("allocation", alloc.properties, path);
    moved.remove();
    await expect(context.host.read(allocUrn, alloc.id, legacy, legacy)).rejects.toThrow(/Cannot find module/);
    expect((await context.host.diff(allocUrn, alloc.id, legacy, allocInputs(subnet.id))).changes).toBe(2);
    const repaired = await context.host.update(allocUrn, alloc.id, legacy, allocInputs(subnet.id));
    expect((await context.host.read(allocUrn, alloc.id, repaired.properties, repaired.properties)).id).toBe(alloc.id);
    await context.host.delete(allocUrn, alloc.id, repaired.properties);
    await context.host.delete(subnetUrn, subnet.id, subnet.properties);
  });
});

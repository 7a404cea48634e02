import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { DeploymentError } from "../../harness/engine/index.js";
import { Ipam } from "../../provider/store/index.js";
import { jsonOf, runCli } from "../helpers/cliRunner.js";
import { engineBed, opsOf, type EngineBed } from "../helpers/engineStacks.js";

// protect, retainOnDelete, deletedWith and import on an IpAllocation, through the modelled engine
// (test/engine/programs/lifecycle): what a user of each option sees. docs/pulumi.md has a row each.
const program = join(import.meta.dirname, "programs", "lifecycle");
let bed: EngineBed;
let subnetId: string;

beforeAll(async () => {
  bed = await engineBed("englifecycle");
  subnetId = jsonOf(await cli(["subnet", "create", "10.55.0.0/24", "--json"])).id;
});
afterAll(async () => bed?.close());

const cli = (args: string[]) => runCli(args, { IPAM_DATABASE_URL: bed.db.url });
const stackWith = (name: string, option: string, extra: Record<string, string> = {}) =>
  bed.stack(program, name, { config: { "ipam-lifecycle:subnetId": subnetId, "ipam-lifecycle:option": option, ...extra } });
async function holder(address: string) {
  const ipam = await Ipam.open({ databaseUrl: bed.db.url });
  try {
    return (await ipam.whoHolds(subnetId, address))!;
  } finally {
    await ipam.close();
  }
}

it("protect: destroy refuses the allocation, naming the flag, and its address stays held; unprotected, destroy releases it", async () => {
  const before = await bed.counts();
  const stack = await stackWith("protected", "protect");
  await stack.up();
  const address = String((await stack.outputs()).webAddress);
  const error = (await stack.destroy().catch((e: unknown) => e)) as Error;
  expect(error.message).toMatch(/resource ".*::web" cannot be deleted\nbecause it is protected/);
  expect(error.message).toContain("remove the `protect` flag");
  expect((await holder(address)).owner).toBe("ipam-lifecycle/protected/web");
  expect((await stack.state()).some((r) => r.urn.endsWith("::web"))).toBe(true);

  const unprotected = await stackWith("protected", "none");
  expect(opsOf(await unprotected.up())).toMatchObject({ web: "same" });
  await unprotected.destroy();
  expect(await bed.counts()).toEqual(before);
});

it("retainOnDelete: destroy forgets the allocation and keeps its address held, for the CLI to release", async () => {
  const before = await bed.counts();
  const stack = await stackWith("retained", "retainOnDelete");
  await stack.up();
  const address = String((await stack.outputs()).webAddress);
  const steps = await stack.destroy();
  expect(steps.find((s) => s.name === "web")).toMatchObject({ op: "delete", skipped: "retainOnDelete" });
  expect(await stack.state()).toEqual([]);
  const held = await holder(address);
  expect(held.owner).toBe("ipam-lifecycle/retained/web");
  expect(await bed.counts()).toMatchObject({ allocations: before.allocations + 1 });
  expect((await cli(["release", String(held.id)])).code).toBe(0);
  expect(await bed.counts()).toEqual(before);
});

it("deletedWith: the program fails naming the option, so the preview `pulumi up` runs first changes nothing", async () => {
  const before = await bed.counts();
  const stack = await stackWith("deleted-with", "deletedWith");
  const refused = (await stack.preview().catch((e: unknown) => e)) as DeploymentError;
  expect(refused).toBeInstanceOf(DeploymentError);
  expect(refused.message).toContain('IpAllocation "web": the deletedWith option is not supported');
  expect(await bed.counts()).toEqual(before);

  // Without that preview (`up --skip-preview`) it fails the same way; the allocation is never made
  // (the subnet registered before it in the program may be), and destroy leaves nothing behind.
  const failed = (await stack.up().catch((e: unknown) => e)) as DeploymentError;
  expect(failed.message).toContain('IpAllocation "web": the deletedWith option is not supported');
  expect((await stack.state()).some((r) => r.urn.endsWith("::web"))).toBe(false);
  expect(await bed.counts()).toMatchObject({ allocations: before.allocations, addresses: before.addresses });
  await stack.destroy();
  expect(await bed.counts()).toEqual(before);
});

it("import: the program fails before anything changes, naming adopt and IpAllocation.get instead", async () => {
  const { allocation } = jsonOf(await cli(["alloc", subnetId, "--owner", "cli/imported", "--json"]));
  const before = await bed.counts();
  const stack = await stackWith("imported", "import", { "ipam-lifecycle:importId": String(allocation.id), "ipam-lifecycle:importAddress": allocation.addresses[0] });
  const error = (await stack.up().catch((e: unknown) => e)) as DeploymentError;
  expect(error).toBeInstanceOf(DeploymentError);
  expect(error.message).toContain('IpAllocation "web": the import option is not supported');
  expect(error.message).toContain("adopt: true");
  expect(error.message).toContain('IpAllocation.get("web", id)');
  expect(await bed.counts()).toEqual(before);
  expect((await holder(allocation.addresses[0])).owner).toBe("cli/imported");
});

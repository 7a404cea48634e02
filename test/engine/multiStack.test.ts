import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { engineBed, examplesDir, opsOf, type EngineBed } from "../helpers/engineStacks.js";

let bed: EngineBed;

beforeAll(async () => {
  bed = await engineBed("engmulti");
});
afterAll(async () => bed?.close());

it("examples/multi-stack: two app stacks allocate at once through a StackReference; destroying apps then network leaves nothing", async () => {
  const network = await bed.stack(join(examplesDir, "multi-stack", "network"), "prod");
  await network.up();
  const { appsSubnetId } = await network.outputs();
  expect(appsSubnetId).toMatch(/^\d+$/);

  // The app program's default reference, "organization/ipam-network/prod", is the stack above.
  const apps = await Promise.all(["ci-1", "ci-2"].map((name) => bed.stack(join(examplesDir, "multi-stack", "app"), name)));
  const ups = await Promise.all(apps.map((app) => app.up()));
  for (const steps of ups) expect(opsOf(steps)).toEqual({ "organization/ipam-network/prod": "read", vip: "create" });
  const addresses = await Promise.all(apps.map(async (app) => (await app.outputs()).address));
  expect(new Set(addresses).size).toBe(2);
  for (const address of addresses) expect(address).toMatch(/^10\.30\.[0-3]\.\d+$/);
  expect((await apps[0]!.outputs()).prefixLength).toBe(22);

  await Promise.all(apps.map((app) => app.destroy()));
  expect(await bed.counts()).toMatchObject({ subnets: 1, allocations: 0 });
  await network.destroy();
  expect(await bed.counts()).toEqual({ subnets: 0, allocations: 0, addresses: 0 });
});

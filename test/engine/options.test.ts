import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { DeploymentError, type Stack } from "../../harness/engine/index.js";
import { jsonOf, runCli } from "../helpers/cliRunner.js";
import { changes, engineBed, opsOf, type EngineBed } from "../helpers/engineStacks.js";

// Resource options and reads through the modelled engine, on test/engine/programs/options:
// `kept` (ignoreChanges: ["tags"]), `plain` (no options), `web` (replaceOnChanges: ["tags"]).
const program = join(import.meta.dirname, "programs", "options");
let bed: EngineBed;

beforeAll(async () => {
  bed = await engineBed("engoptions");
});
afterAll(async () => bed?.close());

const cli = (args: string[]) => runCli(args, { IPAM_DATABASE_URL: bed.db.url });
const resource = async (stack: Stack, name: string) => (await stack.state()).find((r) => r.urn.endsWith(`::${name}`))!;

it("ignoreChanges: ['tags'] keeps tags edited outside Pulumi across refresh + up; without it, up restores the program's", async () => {
  const stack = await bed.stack(program, "ignore");
  await stack.up();
  const { keptId, plainId, webStrategy } = await stack.outputs();
  expect(webStrategy).toBe("sequential");

  for (const id of [keptId, plainId]) expect((await cli(["subnet", "update", String(id), "--tag", "env=dev", "--tag", "owner=ops"])).code).toBe(0);
  await stack.refresh();
  expect(opsOf(await stack.preview())).toEqual({ kept: "same", plain: "update", web: "same" });
  await stack.up();
  await stack.refresh(); // the live values, read back from the database
  expect((await resource(stack, "kept")).outputs.tags).toEqual({ env: "dev", owner: "ops" });
  expect((await resource(stack, "plain")).outputs.tags).toEqual({ env: "dev" });
  expect(changes(await stack.preview())).toEqual([]);
  await stack.destroy();
});

it("replaceOnChanges cannot make a dynamic resource's edit a replacement (the SDK host reports no changed keys); --replace does", async () => {
  const stack = await bed.stack(program, "replace");
  const before = await bed.counts();
  await stack.up();
  const webBefore = await resource(stack, "web");

  // web's tags change: the engine's applyReplaceOnChanges only sees keys the provider reported changed.
  const edited = await bed.stack(program, "replace", { config: { "ipam-options:webRole": "api" } });
  expect(opsOf(await edited.preview())).toEqual({ kept: "same", plain: "same", web: "update" });

  // --replace web: a replacement blaming "id", create before delete; web keeps its address and nothing leaks.
  const steps = await stack.up({ replace: ["web"] });
  expect(steps.find((s) => s.name === "web")).toMatchObject({ op: "replace", replaces: ["id"], deleteBeforeReplace: false });
  expect((await stack.outputs()).webAddress).toBe(webBefore.outputs.address);
  expect(await bed.counts()).toEqual({ subnets: before.subnets + 2, allocations: before.allocations + 1, addresses: before.addresses + 1 });
  await stack.destroy();
  expect(await bed.counts()).toEqual(before);
});

it("Subnet.get and IpAllocation.get read live values of things made elsewhere; destroy leaves them; a missing id fails clearly", async () => {
  const before = await bed.counts();
  const subnet = jsonOf(await cli(["subnet", "create", "10.50.0.0/24", "--tag", "src=cli", "--json"]));
  const { allocation } = jsonOf(await cli(["alloc", subnet.id, "--owner", "cli/x", "--count", "2", "--json"]));
  const config = { "ipam-options:getSubnetId": subnet.id, "ipam-options:getAllocationId": allocation.id };
  const stack = await bed.stack(program, "reader", { config });
  expect(opsOf(await stack.up())).toMatchObject({ existing: "read", held: "read" });
  expect(await stack.outputs()).toMatchObject({ existingCidr: "10.50.0.0/24", existingTags: { src: "cli" }, heldAddresses: allocation.addresses, heldOwner: "cli/x" });

  // Live: an edit outside Pulumi shows at the next run, with no step that changes anything.
  expect((await cli(["subnet", "update", subnet.id, "--tag", "src=edited"])).code).toBe(0);
  expect(changes(await stack.up()).filter((s) => s.op !== "read")).toEqual([]);
  expect((await stack.outputs()).existingTags).toEqual({ src: "edited" });

  await stack.destroy();
  expect(await bed.counts()).toEqual({ subnets: before.subnets + 1, allocations: before.allocations + 1, addresses: before.addresses + 2 }); // only read, never owned

  const missing = await bed.stack(program, "missing", { config: { "ipam-options:getSubnetId": "999999" } });
  const error = (await missing.up().catch((e: unknown) => e)) as DeploymentError;
  expect(error).toBeInstanceOf(DeploymentError);
  expect(error.message).toMatch(/subnet 999999.*NOT_FOUND|NOT_FOUND.*999999/s);
  expect((await missing.state()).some((r) => r.urn.endsWith("::existing"))).toBe(false);
  await missing.destroy();
});

it("a create interrupted after the provider answered is retried by the next up without leaking", async () => {
  const stack = await bed.stack(program, "crash");
  const before = await bed.counts();
  await expect(stack.up({ crashAfterCreate: "web" })).rejects.toThrow(/crashed after creating/);
  const latest = JSON.parse(await (await import("node:fs/promises")).readFile(stack.checkpointFile, "utf8")).checkpoint.latest;
  expect(latest.pending_operations).toEqual([expect.objectContaining({ type: "creating", resource: expect.objectContaining({ urn: expect.stringMatching(/::web$/) }) })]);
  const leaked = (await bed.counts()).allocations;
  expect(leaked).toBe(before.allocations + 1); // the provider made web's allocation; the state does not know it

  expect(opsOf(await stack.up())).toMatchObject({ web: "create" });
  expect(stack.messages().filter((m) => m.includes("interrupted"))).toEqual([expect.stringMatching(/^warning: interrupted while creating: urn:pulumi:crash::ipam-options::.*::web$/)]);
  expect(await bed.counts()).toMatchObject({ allocations: leaked });
  expect(JSON.parse(await (await import("node:fs/promises")).readFile(stack.checkpointFile, "utf8")).checkpoint.latest.pending_operations).toBeUndefined();
  await stack.destroy();
  expect(await bed.counts()).toEqual(before);
});

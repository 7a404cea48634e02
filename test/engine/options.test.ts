import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { readCheckpoint } from "../../harness/engine/checkpoint.js";
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
  // RefreshStep.Apply's follow-up Diff: both subnets drifted from what the program last set; web did not.
  const drift = Object.fromEntries((await stack.refresh()).map((s) => [s.name, s.drift]));
  expect(drift).toMatchObject({ kept: "update", plain: "update", web: "same" });
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

it("one name, new then get (another id) then new: the owned subnet is deleted, then the read one only forgotten", async () => {
  const before = await bed.counts();
  const other = jsonOf(await cli(["subnet", "create", "10.51.0.0/24", "--json"]));
  const owned = await bed.stack(program, "switch", { config: { "ipam-options:ownExisting": "true" } });
  expect(opsOf(await owned.up())).toMatchObject({ existing: "create" });
  expect(await bed.counts()).toMatchObject({ subnets: before.subnets + 4 });

  // new -> get: GenerateReadSteps reads the other subnet and deletes the owned one after the program.
  const read = await bed.stack(program, "switch", { config: { "ipam-options:getSubnetId": other.id } });
  expect(opsOf(await read.up())).toMatchObject({ existing: "read" });
  expect((await read.outputs()).existingCidr).toBe("10.51.0.0/24");
  expect(await bed.counts()).toMatchObject({ subnets: before.subnets + 3 });

  // get -> new: a replacement (continueStepsFromImport, wasExternal): the read one is forgotten, never deleted.
  const again = await bed.stack(program, "switch", { config: { "ipam-options:ownExisting": "true" } });
  expect((await again.up()).find((s) => s.name === "existing")).toMatchObject({ op: "replace" });
  expect(await bed.counts()).toMatchObject({ subnets: before.subnets + 4 });
  await again.destroy();
  expect(await bed.counts()).toMatchObject({ subnets: before.subnets + 1 }); // the CLI's subnet stays
});

it("a create interrupted after the provider answered: the next up warns and keeps the pending create until refresh --clear-pending-creates; nothing leaks or doubles", async () => {
  const stack = await bed.stack(program, "crash");
  const pendingOf = async () => (await readCheckpoint(stack.checkpointFile))!.checkpoint.latest.pending_operations ?? [];
  const before = await bed.counts();
  // One step at a time, so web's is the only create in flight when the CLI dies (with more, every
  // create then in flight would be left pending too, as under the real engine).
  await expect(stack.up({ crashAfterCreate: "web", parallel: 1 })).rejects.toThrow(/crashed after creating/);
  const webPending = [expect.objectContaining({ type: "creating", resource: expect.objectContaining({ urn: expect.stringMatching(/::web$/) }) })];
  expect(await pendingOf()).toEqual(webPending);
  const leaked = (await bed.counts()).allocations;
  expect(leaked).toBe(before.allocations + 1); // the provider made web's allocation; the state does not know it

  // Preview does not warn (deployment_executor.go, Execute: `!DryRun`); up does, and keeps the pending create.
  await stack.preview();
  expect(stack.messages().filter((m) => m.includes("pending operations"))).toEqual([]);
  expect(opsOf(await stack.up())).toMatchObject({ web: "create" });
  const warning = stack.messages().filter((m) => m.includes("pending operations"));
  expect(warning).toEqual([expect.stringMatching(/^warning: Attempting to deploy or update resources with 1 pending operations from previous deployment\.\n {2}\* urn:pulumi:crash::ipam-options::.*::web, interrupted while creating\n/)]);
  expect(warning[0]).toContain("`pulumi refresh` will need to be run interactively to clear pending CREATE operations");
  expect(await bed.counts()).toMatchObject({ allocations: leaked }); // the retry got the same allocation back (idempotency key)
  expect(await pendingOf()).toEqual(webPending);

  // A non-interactive refresh leaves it; --clear-pending-creates removes it.
  await stack.refresh();
  expect(await pendingOf()).toEqual(webPending);
  await stack.refresh({ clearPendingCreates: true });
  expect(await pendingOf()).toEqual([]);
  expect(changes(await stack.up())).toEqual([]);
  expect(stack.messages().filter((m) => m.includes("pending operations"))).toEqual([]);
  expect(await bed.counts()).toMatchObject({ allocations: leaked });

  // An ordinary failure ends its operation (snapshot.go, End(step, false)): nothing stays pending.
  const webAddress = String((await stack.outputs()).webAddress);
  const failing = await bed.stack(program, "crash", { config: { "ipam-options:takenAddress": webAddress } });
  await expect(failing.up()).rejects.toThrow(/ADDRESS_IN_USE/);
  expect(await pendingOf()).toEqual([]);
  await stack.destroy();
  expect(await bed.counts()).toEqual(before);
});

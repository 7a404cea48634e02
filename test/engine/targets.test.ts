import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { readCheckpoint, writeCheckpoint, type ResourceState } from "../../harness/engine/checkpoint.js";
import { DeploymentError, repoRoot, type Stack } from "../../harness/engine/index.js";
import { Ipam } from "../../provider/store/index.js";
import { asDeployedBy010 } from "../helpers/legacyState.js";
import { engineBed, opsOf, type EngineBed } from "../helpers/engineStacks.js";

// `pulumi up --target` through the modelled engine (harness/engine/targets.ts): on the quickstart stack
// as pulumi-ipam 0.1.0 left it (no stack identity resource, no __stack or __database), and a targeted
// Subnet replacement (test/engine/programs/renumber) never releasing the untargeted allocations' addresses.
const quickstart = join(repoRoot, "examples", "quickstart");
const renumber = join(import.meta.dirname, "programs", "renumber");
let bed: EngineBed;

beforeAll(async () => {
  bed = await engineBed("engtargets");
});
afterAll(async () => bed?.close());

/** The checkpoint rewritten as 0.1.0 wrote it (test/helpers/legacyState.ts). */
async function asDeployedBy010InPlace(file: string, stack: string): Promise<ResourceState[]> {
  const legacy = asDeployedBy010((await readCheckpoint(file))!.checkpoint.latest.resources, join(repoRoot, "dist", "provider", "dynamic", "index.js"));
  await writeCheckpoint(file, stack, legacy, []);
  return legacy;
}

it("a stack deployed by 0.1.0: --target lan names the stack identity to add; with it, only lan (and the identity) change", async () => {
  const stack = await bed.stack(quickstart, "old");
  await stack.up();
  const legacy = await asDeployedBy010InPlace(stack.checkpointFile, "old");
  const counts = await bed.counts();
  const state = await stack.state();
  const identityUrn = "urn:pulumi:old::ipam-quickstart::pulumi-nodejs:dynamic/ipam:StackIdentity::pulumi-ipam-stack";

  // validateSteps: lan now depends on the identity, a create the --target list leaves out.
  const refused = (await stack.up({ target: ["lan"] }).catch((e: unknown) => e)) as DeploymentError;
  expect(refused).toBeInstanceOf(DeploymentError);
  expect(refused.message).toContain(`depends on '${identityUrn}' which was was not specified in --target list`);
  expect(await stack.state()).toEqual(state);
  expect(await bed.counts()).toEqual(counts);

  // With the identity targeted too: lan is upgraded in place, web and db keep their 0.1.0 state.
  expect(opsOf(await stack.up({ target: ["lan", identityUrn] }))).toMatchObject({ lan: "update", web: "same", db: "same" });
  const after = await stack.state();
  expect(after.find((r) => r.urn === identityUrn)).toBeDefined();
  const byName = (name: string) => after.find((r) => r.urn.endsWith(`::${name}`))!;
  expect(byName("lan").id).toBe(legacy.find((r) => r.urn.endsWith("::lan"))!.id);
  expect(byName("lan").outputs.__database).toEqual(expect.any(String));
  expect(byName("web").outputs.__database).toBeUndefined();
  expect(await bed.counts()).toEqual(counts);

  // An untargeted up then upgrades the rest; nothing is replaced, nothing leaks.
  expect(opsOf(await stack.up())).toMatchObject({ lan: "same", web: "update", db: "update" });
  expect(await bed.counts()).toEqual(counts);
  await stack.destroy();
  expect(await bed.counts()).toEqual({ subnets: 0, allocations: 0, addresses: 0 });
});

const renumbered = (name: string, config: Record<string, string> = {}) =>
  bed.stack(renumber, name, { config: Object.fromEntries(Object.entries(config).map(([k, v]) => [`ipam-renumber:${k}`, v])) });

/** Every row of the IPAM tables, so "nothing changed" compares the whole database. */
async function rows(): Promise<unknown> {
  const client = new pg.Client({ connectionString: bed.db.url });
  await client.connect();
  try {
    const out: Record<string, unknown[]> = {};
    for (const table of ["subnet", "allocation", "allocated_address", "free_range", "free_block", "held_address", "audit_event"]) out[table] = (await client.query(`SELECT * FROM ipam.${table} ORDER BY 1, 2`)).rows;
    return out;
  } finally {
    await client.end();
  }
}

/** Who holds each of the stack's addresses now, by the state's subnet ids. */
async function holdersOf(stack: Stack): Promise<Record<string, string | undefined>> {
  const ipam = await Ipam.open({ databaseUrl: bed.db.url });
  try {
    const out: Record<string, string | undefined> = {};
    for (const r of await stack.state()) {
      if (!r.type.endsWith(":IpAllocation")) continue;
      for (const address of r.outputs.addresses as string[]) out[address] = (await ipam.whoHolds(String(r.outputs.subnetId), address))?.owner;
    }
    return out;
  } finally {
    await ipam.close();
  }
}

const byName = (state: ResourceState[], name: string) => state.filter((r) => r.urn.endsWith(`::${name}`));

/**
 * The checkpoint's content: its resources (secrets decrypted) and pending operations. A failed up
 * rewrites the file (a new time, fresh ciphertext), and a program that throws never registers the
 * root stack's outputs again: those are left out.
 */
async function checkpointOf(stack: Stack): Promise<unknown> {
  const resources = (await stack.state()).map((r) => (r.type === "pulumi:pulumi:Stack" ? { ...r, outputs: {} } : r));
  return { resources, pending: (await readCheckpoint(stack.checkpointFile))!.checkpoint.latest.pending_operations ?? [] };
}

it("--target lan with a new CIDR overlapping the old (delete-first) is refused at lan's Diff, preview and up, naming what it holds: checkpoint and database unchanged, every address held", async () => {
  const before = await bed.counts();
  const stack = await renumbered("dbr");
  await stack.up();
  const lanId = byName(await stack.state(), "lan")[0]!.id;
  const checkpoint = await checkpointOf(stack);
  const database = await rows();
  const held = await holdersOf(stack);
  expect(held).toEqual({ "10.30.0.1": "ipam-renumber/dbr/web", "10.30.0.2": "ipam-renumber/dbr/web", "10.30.0.100": "ipam-renumber/dbr/db" });

  const grown = await renumbered("dbr", { cidr: "10.30.0.0/23" });
  for (const run of [() => grown.preview({ target: ["lan"] }), () => grown.up({ target: ["lan"] }), () => grown.up()]) {
    const refused = (await run().catch((e: unknown) => e)) as DeploymentError;
    expect(refused).toBeInstanceOf(DeploymentError);
    expect(refused.message).toContain(`subnet ${lanId} (10.30.0.0/24) cannot be replaced by 10.30.0.0/23 while it holds 2 allocations (first: 10.30.0.1 (ipam-renumber/dbr/web), 10.30.0.100 (ipam-renumber/dbr/db))`);
    expect(refused.message).toContain("Nothing was changed");
    expect(refused.message).toContain("declare the new CIDR as another Subnet");
    expect(refused.message).toContain("SUBNET_IN_USE");
    expect(refused.steps.filter((s) => s.op !== "same").map((s) => s.name)).toEqual([]);
    expect(await checkpointOf(stack)).toEqual(checkpoint);
    expect(await rows()).toEqual(database);
    expect(await holdersOf(stack)).toEqual(held);
  }

  // The safe path, in one up: the new CIDR as another Subnet, the allocations moved to it (each
  // replaced create-first), lan removed last. db keeps its address; nothing is left behind.
  const moved = await renumbered("dbr", { next: "10.30.0.0/23", nextNamespace: "v2", dropLan: "true" });
  expect(opsOf(await moved.preview())).toMatchObject({ next: "create", web: "replace", db: "replace", lan: "delete" });
  const steps = await moved.up();
  expect(steps.filter((s) => s.op === "replace").every((s) => s.deleteBeforeReplace === false)).toBe(true);
  expect(await moved.outputs()).toMatchObject({ dbAddress: "10.30.0.100", webAddresses: ["10.30.0.1", "10.30.0.2"] });
  const state = await moved.state();
  expect(byName(state, "lan")).toEqual([]);
  expect(Object.values(await holdersOf(moved))).toEqual(["ipam-renumber/dbr/web", "ipam-renumber/dbr/web", "ipam-renumber/dbr/db"]);
  await moved.destroy();
  expect(await bed.counts()).toEqual(before);
});

it("--target lan with a non-overlapping CIDR (create-first): the old subnet's delete fails SUBNET_IN_USE naming the untargeted allocations, whose addresses stay held; a full up then moves them", async () => {
  const before = await bed.counts();
  const stack = await renumbered("cbd", { cidr: "10.34.0.0/24", dbAddress: "10.34.0.100" });
  await stack.up();
  const old = byName(await stack.state(), "lan")[0]!;
  const held = await holdersOf(stack);

  // step_generator.go: lan's replacement is created first (generateStepsFromDiff); web and db are
  // untargeted, so SameSteps keep their old state (wired to the old id); GenerateDeletes then deletes
  // the condemned old lan (its URN is targeted), and the provider refuses: nothing was released.
  const moved = await renumbered("cbd", { cidr: "10.35.0.0/24", dbAddress: "10.35.0.100" });
  const failed = (await moved.up({ target: ["lan"] }).catch((e: unknown) => e)) as DeploymentError;
  expect(failed).toBeInstanceOf(DeploymentError);
  expect(failed.message).toContain(`subnet ${old.id} still has 2 allocations`);
  expect(failed.message).toContain("ipam-renumber/cbd/web (10.34.0.1, 10.34.0.2)");
  expect(failed.message).toContain("ipam-renumber/cbd/db (10.34.0.100)");
  expect(opsOf(failed.steps)).toMatchObject({ lan: "replace", web: "same", db: "same" });
  expect(await holdersOf(stack)).toEqual(held);
  const lans = byName(await stack.state(), "lan");
  expect(lans.map((r) => [r.id, r.outputs.cidr, r.delete === true])).toEqual(expect.arrayContaining([[old.id, "10.34.0.0/24", true], [expect.any(String), "10.35.0.0/24", false]]));
  expect(await bed.counts()).toEqual({ subnets: before.subnets + 2, allocations: before.allocations + 2, addresses: before.addresses + 3 });

  // The full up replaces web and db create-first into the new lan, then deletes the old one.
  expect(opsOf(await moved.up())).toMatchObject({ lan: "same", web: "replace", db: "replace" });
  expect(await moved.outputs()).toMatchObject({ dbAddress: "10.35.0.100", webAddresses: ["10.35.0.1", "10.35.0.2"] });
  expect(byName(await moved.state(), "lan").map((r) => r.outputs.cidr)).toEqual(["10.35.0.0/24"]);
  expect(await bed.counts()).toEqual({ subnets: before.subnets + 1, allocations: before.allocations + 2, addresses: before.addresses + 3 });
  await moved.destroy();
  expect(await bed.counts()).toEqual(before);
});

it("deleteBeforeReplace on a Subnet: the program fails naming the option before anything changes, on a new stack and on a deployed one", async () => {
  const fresh = await renumbered("option-new", { cidr: "10.31.0.0/24", dbAddress: "10.31.0.100", deleteBeforeReplace: "true" });
  for (const run of [() => fresh.preview(), () => fresh.up()]) {
    const refused = (await run().catch((e: unknown) => e)) as DeploymentError;
    expect(refused).toBeInstanceOf(DeploymentError);
    expect(refused.message).toContain('Subnet "lan": the deleteBeforeReplace option is not supported');
  }
  expect(byName(await fresh.state(), "lan")).toEqual([]);
  expect(byName(await fresh.state(), "web")).toEqual([]);
  await fresh.destroy();

  // On a deployed stack, with a CIDR change the option would turn into a delete-first replacement
  // (10.32.0.0/24 -> 10.33.0.0/24 does not overlap: without the option, create-first).
  const stack = await renumbered("option", { cidr: "10.32.0.0/24", dbAddress: "10.32.0.100" });
  await stack.up();
  const checkpoint = await checkpointOf(stack);
  const database = await rows();
  const held = await holdersOf(stack);
  const forced = await renumbered("option", { cidr: "10.33.0.0/24", dbAddress: "10.33.0.100", deleteBeforeReplace: "true" });
  for (const run of [() => forced.preview({ target: ["lan"] }), () => forced.up({ target: ["lan"] }), () => forced.up()]) {
    const refused = (await run().catch((e: unknown) => e)) as DeploymentError;
    expect(refused.message).toContain('Subnet "lan": the deleteBeforeReplace option is not supported');
    expect(await checkpointOf(stack)).toEqual(checkpoint);
    expect(await rows()).toEqual(database);
    expect(await holdersOf(stack)).toEqual(held);
  }
  await stack.destroy();
});

it("a new CIDR unknown in preview (computed from another resource): preview shows a replacement; up refuses at lan's Diff before lan, web or db change", async () => {
  const initial = await bed.counts();
  const stack = await renumbered("unknown", { cidrFromSeed: "true", cidr: "10.36.0.0/24", dbAddress: "10.36.0.100" });
  await stack.up();
  const before = await stack.state();
  const held = await holdersOf(stack);
  const lanRows = async () => ((await rows()) as { subnet: { cidr: string }[] }).subnet.filter((r) => r.cidr.startsWith("10.36."));

  const grown = await renumbered("unknown", { cidrFromSeed: "true", cidr: "10.36.0.0/23", dbAddress: "10.36.0.100", seedTag: "b" });
  const preview = await grown.preview({ target: ["seed", "lan"] });
  // The CIDR is unknown, so lan's Diff cannot tell it overlaps: a replacement, not (yet) refused.
  expect(opsOf(preview)).toMatchObject({ seed: "update", lan: "replace", web: "same", db: "same" });
  const subnetsBefore = await lanRows();
  for (const run of [() => grown.up({ target: ["seed", "lan"] }), () => grown.up()]) {
    const refused = (await run().catch((e: unknown) => e)) as DeploymentError;
    expect(refused).toBeInstanceOf(DeploymentError);
    expect(refused.message).toContain("(10.36.0.0/24) cannot be replaced by 10.36.0.0/23 while it holds 2 allocations");
    const after = await stack.state();
    for (const name of ["lan", "web", "db"]) expect(byName(after, name)).toEqual(byName(before, name));
    expect(await lanRows()).toEqual(subnetsBefore);
    expect(await holdersOf(stack)).toEqual(held);
  }
  await stack.destroy();
  expect(await bed.counts()).toEqual(initial);
});

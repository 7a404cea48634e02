import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { readCheckpoint, writeCheckpoint, type ResourceState } from "../../harness/engine/checkpoint.js";
import { DeploymentError, repoRoot } from "../../harness/engine/index.js";
import { asDeployedBy010 } from "../helpers/legacyState.js";
import { engineBed, opsOf, type EngineBed } from "../helpers/engineStacks.js";

// `pulumi up --target` through the modelled engine (harness/engine/targets.ts) on the quickstart stack
// as pulumi-ipam 0.1.0 left it: no stack identity resource, no __stack or __database.
const quickstart = join(repoRoot, "examples", "quickstart");
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

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { readCheckpoint, writeCheckpoint, type ResourceState } from "../../harness/engine/checkpoint.js";
import { isSecret, SECRET_SIG, stripSecrets } from "../../harness/engine/secrets.js";
import type { Stack } from "../../harness/engine/index.js";
import { engineBed, opsOf, type EngineBed } from "../helpers/engineStacks.js";

// Secret description and tags on a Subnet and an IpAllocation (test/engine/programs/secrets; every
// secret value holds "s3cr3t"), through the modelled engine: the SDK sends them marked, the host gets
// them plain (acceptSecrets: false), the engine re-marks only same-named outputs (annotateSecrets),
// and the checkpoint stores secrets as ciphertext. A plaintext "s3cr3t" anywhere in it is a leak.
const program = join(import.meta.dirname, "programs", "secrets");
const MARK = "s3cr3t";
let bed: EngineBed;

beforeAll(async () => {
  bed = await engineBed("engsecrets");
});
afterAll(async () => bed?.close());

const raw = (stack: Stack) => readFile(stack.checkpointFile, "utf8");
/** Each leaked value, with where it sits, so a failure says which copy leaked. */
async function leaks(stack: Stack): Promise<string[]> {
  const found: string[] = [];
  const walk = (v: unknown, path: string) => {
    if (typeof v === "string" && v.includes(MARK)) found.push(`${path}: ${v}`);
    else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`));
    else if (v !== null && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(x, `${path}.${k}`);
  };
  walk(JSON.parse(await raw(stack)), "checkpoint");
  return found;
}
const resource = async (stack: Stack, name: string) => (await stack.state()).find((r) => r.urn.endsWith(`::${name}`))!;

it("up, update, refresh and re-up never write a secret input in plaintext; outputs of the same name stay secret", async () => {
  const stack = await bed.stack(program, "dev");
  await stack.up();
  expect(await leaks(stack)).toEqual([]);
  expect(await raw(stack)).toContain(SECRET_SIG); // the secrets are there, as ciphertext
  const lan = await resource(stack, "lan");
  expect(isSecret(lan.outputs.description)).toBe(true);
  expect(isSecret((lan.outputs.tags as Record<string, unknown>).token)).toBe(true);
  expect((lan.outputs.tags as Record<string, unknown>).env).toBe("dev");
  expect(stripSecrets(lan.outputs.description)).toBe(`lan-description-one-${MARK}`);
  // The program's secret export stays secret in the stack's outputs (`stack output` shows it with --show-secrets).
  expect((await stack.outputs()).lanDescription).toBe(`lan-description-one-${MARK}`);

  const edited = await bed.stack(program, "dev", { config: { "ipam-secrets:round": "two" } });
  expect(opsOf(await edited.up())).toMatchObject({ lan: "update", web: "update" });
  expect(await leaks(edited)).toEqual([]);
  expect(stripSecrets((await resource(edited, "web")).outputs.description)).toBe(`web-description-two-${MARK}`);

  await edited.refresh();
  expect(await leaks(edited)).toEqual([]);
  expect(opsOf(await edited.up())).toMatchObject({ lan: "same", web: "same" });
  expect(await leaks(edited)).toEqual([]);
  expect(edited.messages().join("\n")).not.toContain(MARK);
  await edited.destroy();
});

it("state written by the previous release (the inputs' copy plaintext) is cleaned by the next up", async () => {
  const stack = await bed.stack(program, "legacy", { config: { "ipam-secrets:cidr": "10.61.0.0/24" } });
  await stack.up();
  // As the previous release's SDK left it under the real engine: `__inputs` not marked secret.
  const latest = (await readCheckpoint(stack.checkpointFile))!.checkpoint.latest;
  const legacy = latest.resources.map((r): ResourceState => {
    if (!r.type.startsWith("pulumi-nodejs:dynamic/ipam:") || r.outputs.__inputs === undefined) return r;
    const { additionalSecretOutputs: _dropped, ...rest } = r;
    return { ...rest, outputs: { ...r.outputs, __inputs: stripSecrets(r.outputs.__inputs) } };
  });
  await writeCheckpoint(stack.checkpointFile, "legacy", legacy, []);
  expect((await leaks(stack)).length).toBeGreaterThan(0); // the fixture does hold the old leak

  expect(opsOf(await stack.up())).toMatchObject({ lan: "same", web: "same" });
  expect(await leaks(stack)).toEqual([]);
  await stack.destroy();
});

import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { DeploymentError } from "../../harness/engine/index.js";
import { engineBed, opsOf, type EngineBed } from "../helpers/engineStacks.js";

// In the first preview, `first.addresses` is unknown: it feeds a pool start and a reserved entry of
// `mirror` (nested unknowns) and, through mirror's id, the subnetId of `bad`.
const program = join(import.meta.dirname, "programs", "rules");
let bed: EngineBed;

beforeAll(async () => {
  bed = await engineBed("engunknown");
});
afterAll(async () => bed?.close());

it("a Subnet whose pool start and a reserved entry come from another resource's output previews without failures, and deploys", async () => {
  const stack = await bed.stack(program, "dev");
  expect(opsOf(await stack.preview())).toEqual({ source: "create", first: "create", mirror: "create" });
  await stack.up();
  expect((await stack.outputs()).mirrorPools).toEqual([{ start: "10.9.0.1", end: "10.9.0.200" }]);
  await stack.destroy();
});

it("a known bad count beside an unknown subnetId is a Check failure naming count", async () => {
  const stack = await bed.stack(program, "badcount", { config: { "ipam-rules:badCount": "true" } });
  const error = await stack.preview().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(DeploymentError);
  const failed = (error as DeploymentError).steps.find((s) => s.failures !== undefined);
  expect(failed?.name).toBe("bad");
  expect(failed?.failures).toEqual([{ property: "count", reason: expect.stringContaining("count") }]);
});

it("a known bad reserved entry beside an unknown pool start is a Check failure naming reserved", async () => {
  const stack = await bed.stack(program, "badreserved", { config: { "ipam-rules:badReserved": "true" } });
  const error = (await stack.preview().catch((e: unknown) => e)) as DeploymentError;
  const failed = error.steps.find((s) => s.failures !== undefined);
  expect(failed?.name).toBe("badReserved");
  expect(failed?.failures?.map((f) => f.property)).toEqual(["reserved"]);
});

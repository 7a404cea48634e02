import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { editedProgram } from "../../harness/engine/index.js";
import { changes, engineBed, examplesDir, opsOf, type EngineBed } from "../helpers/engineStacks.js";

const program = join(examplesDir, "child-subnets");
let bed: EngineBed;

beforeAll(async () => {
  bed = await engineBed("engchild");
});
afterAll(async () => bed?.close());

it("examples/child-subnets: editing the platform subnet's description previews one update only", async () => {
  const stack = await bed.stack(program, "dev");
  // First preview: the children's parentId is unknown (platform does not exist yet); Check still passes.
  expect(opsOf(await stack.preview())).toEqual({ platform: "create", payments: "create", search: "create", edge: "create", "payments-api": "create" });
  expect(opsOf(await stack.up())).toEqual({ platform: "create", payments: "create", search: "create", edge: "create", "payments-api": "create" });
  const before = await stack.outputs();
  expect(changes(await stack.preview())).toEqual([]);

  // The children's parentId is platform's id: known while platform's update is previewed.
  stack.setProgram(await editedProgram(program, (src) => src.replace('description: "carved into team subnets"', 'description: "team subnets, /20 to /28"')));
  expect(opsOf(await stack.preview())).toEqual({ platform: "update", payments: "same", search: "same", edge: "same", "payments-api": "same" });
  expect(changes(await stack.up())).toEqual([expect.objectContaining({ name: "platform", op: "update" })]);
  expect(await stack.outputs()).toEqual(before);

  await stack.destroy();
  expect(await bed.counts()).toEqual({ subnets: 0, allocations: 0, addresses: 0 });
});

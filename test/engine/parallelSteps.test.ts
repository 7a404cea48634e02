import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { engineBed, type EngineBed } from "../helpers/engineStacks.js";

// A 200-resource program (test/engine/programs/many) through the modelled engine with the CLI's
// default --parallel and with --parallel 1: the same accounting, every address held once.
const program = join(import.meta.dirname, "programs", "many");
let bed: EngineBed;

beforeAll(async () => {
  bed = await engineBed("engparallel");
});
afterAll(async () => bed?.close());

/** The addresses of the program, with the subnet's octets made relative, so two runs compare. */
let first: string[] | undefined;
const relative = (addresses: unknown) => (addresses as string[]).map((a) => a.split(".").slice(2).join(".")).sort();

it.each([
  { label: "default --parallel", parallel: undefined, base: 70 },
  { label: "--parallel 1", parallel: 1, base: 80 },
])("$label: 200 resources deploy, each address held once; destroy frees them all", async ({ parallel, base }) => {
  const before = await bed.counts();
  const stack = await bed.stack(program, `p${parallel ?? "default"}`, { config: { "ipam-many:base": String(base) }, ...(parallel === undefined ? {} : { parallel }) });
  await stack.up();
  const { addresses } = await stack.outputs();
  expect(addresses).toHaveLength(196);
  expect(new Set(addresses as string[]).size).toBe(196);
  expect(await bed.counts()).toEqual({ subnets: before.subnets + 4, allocations: before.allocations + 196, addresses: before.addresses + 196 });
  // Sequential allocation in each subnet: the same lowest free addresses of each /22, whatever the order of the creates.
  first ??= relative(addresses);
  expect(relative(addresses)).toEqual(first);
  expect((await stack.state()).filter((r) => r.type.endsWith(":IpAllocation"))).toHaveLength(196);
  await stack.destroy();
  expect(await bed.counts()).toEqual(before);
}, 900_000);

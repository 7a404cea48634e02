import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { changes, engineBed, examplesDir, opsOf, type EngineBed } from "../helpers/engineStacks.js";

let bed: EngineBed;

beforeAll(async () => {
  bed = await engineBed("engipv6");
});
afterAll(async () => bed?.close());

it("examples/ipv6: four random addresses in a /64 through the engine; a second preview is clean; destroy empties the database", async () => {
  const stack = await bed.stack(join(examplesDir, "ipv6"), "dev");
  expect(opsOf(await stack.up())).toEqual({ v6: "create", hosts: "create" });
  const { ipVersion, size, addresses } = await stack.outputs();
  expect(ipVersion).toBe(6);
  expect(size).toBe("18446744073709551616");
  expect(new Set(addresses as string[]).size).toBe(4);
  for (const address of addresses as string[]) expect(address).toMatch(/^2001:db8:40:0?:/);
  expect((await stack.state()).find((r) => r.urn.endsWith("::hosts"))?.outputs.strategy).toBe("random");
  expect(changes(await stack.preview())).toEqual([]);
  await stack.destroy();
  expect(await bed.counts()).toEqual({ subnets: 0, allocations: 0, addresses: 0 });
});

import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { editedProgram, type Stack } from "../../harness/engine/index.js";
import { runCli } from "../helpers/cliRunner.js";
import { changes, engineBed, examplesDir, opsOf, type EngineBed } from "../helpers/engineStacks.js";

// The walk through examples/quickstart, every step through the modelled engine (harness/engine).
const program = join(examplesDir, "quickstart");
let bed: EngineBed;
let stack: Stack;

beforeAll(async () => {
  bed = await engineBed("engquick");
  stack = await bed.stack(program, "dev");
});
afterAll(async () => bed?.close());

it("preview, up, edit tags, resize, out-of-band release, refresh, up, a refused overlapping renumber, remove, destroy", async () => {
  expect(opsOf(await stack.preview())).toEqual({ lan: "create", web: "create", db: "create" });
  await stack.up();
  expect(await stack.outputs()).toMatchObject({ dbAddress: "10.20.0.100", webAddresses: ["10.20.0.10", "10.20.0.11"], gateway: "10.20.0.1" });
  expect(changes(await stack.preview())).toEqual([]);

  // Only lan's tags change: one update, and web and db stay (their subnetId is lan's id, known in preview).
  stack.setProgram(await editedProgram(program, (src) => src.replace('tags: { env: "dev" }', 'tags: { env: "dev", team: "net" }')));
  expect(opsOf(await stack.preview())).toEqual({ lan: "update", web: "same", db: "same" });
  expect(opsOf(await stack.up())).toEqual({ lan: "update", web: "same", db: "same" });
  const lan = (await stack.state()).find((r) => r.urn.endsWith("::lan"))!;
  expect(lan.outputs.tags).toEqual({ env: "dev", team: "net" });
  expect(changes(await stack.preview())).toEqual([]);

  // count 2 -> 3: one in-place update that keeps the two addresses and adds one.
  stack.setProgram(
    await editedProgram(program, (src) => src.replace('tags: { env: "dev" }', 'tags: { env: "dev", team: "net" }').replace("count: 2", "count: 3")),
  );
  expect(changes(await stack.preview())).toEqual([expect.objectContaining({ name: "web", op: "update" })]);
  await stack.up();
  expect((await stack.outputs()).webAddresses).toEqual(["10.20.0.10", "10.20.0.11", "10.20.0.12"]);

  // The CLI releases db outside Pulumi; refresh notices it is gone; up allocates it again.
  const db = (await stack.state()).find((r) => r.urn.endsWith("::db"))!;
  const released = await runCli(["release", String(db.outputs.allocationId)], { IPAM_DATABASE_URL: bed.db.url });
  expect(released.code, released.stderr).toBe(0);
  const refreshed = await stack.refresh();
  expect(refreshed.filter((s) => s.gone).map((s) => s.name)).toEqual(["db"]);
  expect((await stack.state()).some((r) => r.urn.endsWith("::db"))).toBe(false);
  expect(opsOf(await stack.up())).toEqual({ lan: "same", web: "same", db: "create" });
  expect((await stack.outputs()).dbAddress).toBe("10.20.0.100");
  expect(await bed.counts()).toEqual({ subnets: 1, allocations: 2, addresses: 4 });

  // A new cidr overlapping the old one would replace lan delete-first, and the engine would delete web
  // and db (wired to lan's id) before it (calculateDependentReplacements), releasing their addresses:
  // lan's Diff refuses, in preview and up, before anything changes (docs/pulumi.md, "Renumbering a subnet").
  const holders = async () => (await stack.state()).filter((r) => !r.urn.endsWith("::lan") && r.type.endsWith(":IpAllocation")).map((r) => [r.id, r.outputs.addresses]);
  const held = await holders();
  stack.setProgram(await editedProgram(program, (src) => src.replace('tags: { env: "dev" }', 'tags: { env: "dev", team: "net" }').replace('cidr: "10.20.0.0/24"', 'cidr: "10.20.0.0/23"').replace("count: 2", "count: 3")));
  for (const run of [() => stack.preview(), () => stack.up()]) {
    const refused = (await run().catch((e: unknown) => e)) as Error;
    expect(refused.message).toMatch(/subnet \d+ \(10\.20\.0\.0\/24\) cannot be replaced by 10\.20\.0\.0\/23 while it holds 2 allocations/);
    expect(await holders()).toEqual(held);
    expect(await bed.counts()).toEqual({ subnets: 1, allocations: 2, addresses: 4 });
  }

  // db removed from the program: a delete, run after every other step; its address is released.
  stack.setProgram(
    await editedProgram(program, (src) =>
      src
        .replace('tags: { env: "dev" }', 'tags: { env: "dev", team: "net" }')
        .replace("count: 2", "count: 3")
        .replace(/^const db = .*$/m, "")
        .replace(/^export const dbAddress = .*$/m, ""),
    ),
  );
  const removal = await stack.preview();
  expect(opsOf(removal)).toEqual({ lan: "same", web: "same", db: "delete" });
  expect(removal.at(-1)).toMatchObject({ name: "db", op: "delete" });
  await stack.up();
  expect(await bed.counts()).toEqual({ subnets: 1, allocations: 1, addresses: 3 });

  await stack.destroy();
  expect(await stack.state()).toEqual([]);
  expect(await bed.counts()).toEqual({ subnets: 0, allocations: 0, addresses: 0 });
}, 600_000);

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { DeploymentError, editedProgram, type Stack } from "../../harness/engine/index.js";
import type { PreviewReport, ReportEntry as Entry } from "../../provider/cli/previewReport/previewPlan.js";
import { jsonOf, runCli } from "../helpers/cliRunner.js";
import { engineBed, examplesDir, opsOf, type EngineBed } from "../helpers/engineStacks.js";

// `ipam preview-report` on what the modelled engine prints for `pulumi preview --json`, for the edits of
// docs/pulumi.md's preview table (examples/quickstart), then `up`: the predicted addresses are the ones
// allocated. And the predicted failures (test/engine/programs/report), each then failing `up` the same way.
const quickstart = join(examplesDir, "quickstart");
const failing = join(import.meta.dirname, "programs", "report");
let bed: EngineBed;
let files = 0;

beforeAll(async () => {
  bed = await engineBed("engreport");
});
afterAll(async () => bed?.close());

/** The last preview's `--json` document through `ipam preview-report --json`: exit code, entries by name. */
async function report(stack: Stack) {
  const file = join(bed.backendDir, `preview-${(files += 1)}.json`);
  await writeFile(file, JSON.stringify(stack.previewJson(), null, 4));
  const result = await runCli(["preview-report", file, "--json"], { IPAM_DATABASE_URL: bed.db.url });
  if (process.env.REPORT_DEBUG) console.log(new Date().toISOString(), result.code, result.stdout.slice(0, 3000), result.stderr);
  const parsed = jsonOf<PreviewReport & { entries: Entry[] }>(result);
  return { code: result.code, ...parsed, entry: (name: string) => parsed.entries.find((e) => e.resource === name)! };
}

const addressesOf = async (stack: Stack, name: string) => (await stack.state()).find((r) => r.urn.endsWith(`::${name}`))!.outputs.addresses as string[];

interface Edit {
  tags?: boolean;
  poolEnd?: string;
  reserved?: string;
  count?: number;
  cidr?: string;
  /** Every 10.20.0.x of the program (cidr, gateway, pools, reserved, db's address) becomes 10.21.0.x. */
  renumbered?: boolean;
  noDb?: boolean;
  description?: boolean;
}

const edited = (e: Edit) =>
  editedProgram(quickstart, (src) => {
    let out = src;
    if (e.tags) out = out.replace('tags: { env: "dev" }', 'tags: { env: "dev", team: "net" }');
    if (e.poolEnd) out = out.replace('end: "10.20.0.200"', `end: "${e.poolEnd}"`);
    if (e.reserved) out = out.replace('reserved: ["10.20.0.53"]', `reserved: ["10.20.0.53", "${e.reserved}"]`);
    if (e.count !== undefined) out = out.replace("count: 2", `count: ${e.count}`);
    if (e.cidr) out = out.replace('cidr: "10.20.0.0/24"', `cidr: "${e.cidr}"`);
    if (e.renumbered) out = out.replaceAll("10.20.0.", "10.21.0.");
    if (e.description) out = out.replace('description: "web servers"', 'description: "web and api servers"');
    if (e.noDb) out = out.replace(/^const db = .*$/m, "").replace(/^export const dbAddress = .*$/m, "");
    return out;
  });

it("each edit of the preview table: the report names the addresses released and taken, and up allocates exactly the predicted ones", async () => {
  const stack = await bed.stack(quickstart, "dev");

  // First preview: everything is created; web and db reach lan through its URN (their subnetId is unknown).
  await stack.preview();
  let r = await report(stack);
  expect(r.code).toBe(0);
  expect(r.entry("lan")).toMatchObject({ op: "create", cidr: "10.20.0.0/24" });
  expect(r.entry("web")).toMatchObject({ op: "create", subnet: "10.20.0.0/24", taken: ["10.20.0.10", "10.20.0.11"], released: [] });
  expect(r.entry("db")).toMatchObject({ op: "create", taken: ["10.20.0.100"] });
  expect(r.subnets).toEqual([expect.objectContaining({ cidr: "10.20.0.0/24", poolSize: "190", after: "3", beforePercent: "new", afterPercent: "1.5 %" })]);
  await stack.up();
  expect(await addressesOf(stack, "web")).toEqual(r.entry("web").taken);
  expect(await addressesOf(stack, "db")).toEqual(r.entry("db").taken);

  // Nothing changed: no IPAM step is shown (sames are hidden as in the CLI's digest).
  await stack.preview();
  r = await report(stack);
  expect([r.code, r.entries]).toEqual([0, []]);

  // A Subnet's tags and pools: one update; db's address would end outside the shrunk pool.
  stack.setProgram(await edited({ tags: true, poolEnd: "10.20.0.99" }));
  expect(opsOf(await stack.preview())).toEqual({ lan: "update", web: "same", db: "same" });
  r = await report(stack);
  expect(r.entries.map((e) => e.resource)).toEqual(["lan"]);
  expect(r.entry("lan")).toMatchObject({ op: "update", released: [], taken: [], outsidePools: [{ address: "10.20.0.100", owner: "ipam-quickstart/dev/db" }] });
  await stack.up();

  // count 2 -> 3 (pools back): predicted additions are the lowest free ones.
  stack.setProgram(await edited({ tags: true, count: 3 }));
  await stack.preview();
  r = await report(stack);
  expect(r.entry("web")).toMatchObject({ op: "update", taken: ["10.20.0.12"], released: [] });
  expect(r.entry("lan")).toMatchObject({ outsidePools: [] });
  await stack.up();
  expect(await addressesOf(stack, "web")).toEqual(["10.20.0.10", "10.20.0.11", ...r.entry("web").taken]);

  // An IpAllocation's description (or tags): an update that moves no address.
  stack.setProgram(await edited({ tags: true, count: 3, description: true }));
  await stack.preview();
  r = await report(stack);
  expect(r.entries.map((e) => [e.resource, e.op, e.released, e.taken])).toEqual([["web", "update", [], []]]);

  // count 3 -> 1: exactly the highest addresses are released.
  stack.setProgram(await edited({ tags: true, count: 1 }));
  await stack.preview();
  r = await report(stack);
  expect(r.entry("web")).toMatchObject({ op: "update", released: ["10.20.0.11", "10.20.0.12"], taken: [] });
  await stack.up();
  expect(await addressesOf(stack, "web")).toEqual(["10.20.0.10"]);

  // A new cidr overlapping the old is refused at lan's Diff while lan holds web and db (docs/pulumi.md,
  // "Renumbering a subnet"): the preview fails, so there is nothing to report.
  stack.setProgram(await edited({ tags: true, count: 1, cidr: "10.20.0.0/23" }));
  expect(((await stack.preview().catch((e: unknown) => e)) as Error).message).toContain("cannot be replaced by 10.20.0.0/23 while it holds 2 allocations");

  // A new cidr not overlapping the old: lan is replaced create-first, web and db replaced into it.
  stack.setProgram(await edited({ tags: true, count: 1, renumbered: true }));
  expect(opsOf(await stack.preview())).toEqual({ lan: "replace", web: "replace", db: "replace" });
  r = await report(stack);
  expect(r.entry("lan")).toMatchObject({ op: "replace", subnet: "10.20.0.0/24", cidr: "10.21.0.0/24" });
  expect(r.entry("web")).toMatchObject({ released: ["10.20.0.10"], taken: ["10.21.0.10"], subnet: "10.21.0.0/24" });
  expect(r.entry("db")).toMatchObject({ released: ["10.20.0.100"], taken: ["10.21.0.100"] });
  expect(r.code).toBe(0);
  await stack.up();
  expect(await addressesOf(stack, "web")).toEqual(r.entry("web").taken);
  expect(await addressesOf(stack, "db")).toEqual(r.entry("db").taken);

  // `up --replace web`: the replacement claims the same allocation: nothing released, nothing taken.
  expect(opsOf(await stack.preview({ replace: ["web"] }))).toMatchObject({ web: "replace" });
  r = await report(stack);
  expect(r.entry("web")).toMatchObject({ op: "replace", kept: ["10.21.0.10"], released: [], taken: [] });
  await stack.up({ replace: ["web"] });
  expect(await addressesOf(stack, "web")).toEqual(r.entry("web").kept);

  // db removed from the program: a delete that releases its address.
  stack.setProgram(await edited({ tags: true, count: 1, renumbered: true, noDb: true }));
  await stack.preview();
  r = await report(stack);
  expect(r.entries.map((e) => [e.resource, e.op])).toEqual([["db", "delete"]]);
  expect(r.entry("db")).toMatchObject({ released: ["10.21.0.100"], taken: [] });
  await stack.up();
  expect(await bed.counts()).toMatchObject({ allocations: 1, addresses: 1 });

  // Released by the CLI, then refresh: the preview's create takes the lowest free address again.
  const web = (await stack.state()).find((s) => s.urn.endsWith("::web"))!;
  expect((await runCli(["release", String(web.outputs.allocationId)], { IPAM_DATABASE_URL: bed.db.url })).code).toBe(0);
  await stack.refresh();
  await stack.preview();
  r = await report(stack);
  expect(r.entry("web")).toMatchObject({ op: "create", taken: ["10.21.0.10"] });
  await stack.up();
  expect(await addressesOf(stack, "web")).toEqual(r.entry("web").taken);
  await stack.destroy();
}, 900_000);

it("predicted failures (exhausted subnet, a held address, a child that does not fit) exit 3 before up, and up fails the same way", async () => {
  const base = await bed.stack(failing, "fail");
  await base.up();

  const cases: { config: Record<string, string>; resource: string; code: string; message: RegExp }[] = [
    { config: { "ipam-report:fillCount": "7" }, resource: "fill", code: "SUBNET_EXHAUSTED", message: /10\.60\.0\.0\/29 has 2 free address\(es\); 3 needed/ },
    { config: { "ipam-report:pinned": "10.60.0.2" }, resource: "pinned", code: "ADDRESS_IN_USE", message: /10\.60\.0\.2 in 10\.60\.0\.0\/29 is held by ipam-report\/fail\/fill/ },
    { config: { "ipam-report:children": "5" }, resource: "team4", code: "SUBNET_EXHAUSTED", message: /no free \/26 block left in 10\.61\.0\.0\/24/ },
  ];
  for (const c of cases) {
    const stack = await bed.stack(failing, "fail", { config: c.config });
    await stack.preview();
    const r = await report(stack);
    expect(r.code).toBe(3);
    expect(r.failures).toEqual([{ resource: c.resource, code: c.code, message: expect.stringMatching(c.message) }]);
    // The report predicts in step order; the parallel engine carves independent siblings (team1…team4)
    // in any order, so only `--parallel 1` makes the sibling that fails, and each one's block, the predicted ones.
    const error = (await stack.up({ parallel: 1 }).catch((e: unknown) => e)) as DeploymentError;
    expect(error).toBeInstanceOf(DeploymentError);
    expect(error.message).toContain(c.code);
    if (c.resource === "team4") {
      // The children that did fit were carved exactly where the report said.
      for (const name of ["team1", "team2", "team3"]) {
        const made = (await stack.state()).find((s) => s.urn.endsWith(`::${name}`))!;
        expect(made.outputs.cidr).toBe(r.entry(name).cidr);
      }
    }
  }
  await (await bed.stack(failing, "fail", { config: { "ipam-report:children": "4" } })).destroy();
}, 900_000);

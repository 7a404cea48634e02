import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Subnet } from "../../provider/core/types.js";
import { jsonOf, runCli } from "../helpers/cliRunner.js";
import { databaseFingerprint } from "../helpers/databaseFingerprint.js";
import { useTestIpam } from "../helpers/openTestIpam.js";

// `ipam preview-report` on hand-made `pulumi preview --json` documents (PreviewDigest): hostile resource
// names, secrets, 5,000 steps, bad input; the markdown as a committed snapshot; the database unchanged.
const context = useTestIpam("clipreview");
let dir: string;
let lan: Subnet;
let big: Subnet;
/**
 * The password in the URL the CLI is given, which must never be printed: the server's own where it
 * has one (the embedded server asks for it), else one a trust server ignores.
 */
const PASSWORD = "pw-never-printed-7f3a";
const url = () => {
  const u = new URL(context.db.url);
  if (u.password === "") u.password = PASSWORD;
  return u.toString();
};
const secretInUrl = () => decodeURIComponent(new URL(url()).password);
const cli = (args: string[]) => runCli(args, { IPAM_DATABASE_URL: url() });

const ALLOCATION = "pulumi-nodejs:dynamic/ipam:IpAllocation";
const HOSTILE = "web\u001b]0;pwned\u0007\u001b[2J|*x*|<img src=x onerror=alert(1)>\u202e[link](http://evil)\n`code`";

const urn = (name: string) => `urn:pulumi:ci::shop::${ALLOCATION}::${name}`;
const create = (name: string, inputs: Record<string, unknown>) => ({
  op: "create",
  urn: urn(name),
  newState: { urn: urn(name), custom: true, type: ALLOCATION, inputs: { __owner: `shop/ci/${name}`, ...inputs } },
});

async function writeDigest(name: string, steps: unknown[]): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, JSON.stringify({ config: { "ipam:databaseUrl": "[secret]", "shop:token": "[secret]" }, steps, changeSummary: { create: steps.length } }));
  return file;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ipam-preview-"));
  lan = await context.ipam.createSubnet({ cidr: "10.70.0.0/24", gateway: "10.70.0.1", allocationPools: [{ start: "10.70.0.10", end: "10.70.0.19" }] });
  big = await context.ipam.createSubnet({ cidr: "10.80.0.0/16" });
  await context.ipam.allocate({ subnetId: lan.id, owner: "other/prod/db", address: "10.70.0.12" });
  await context.ipam.allocate({ subnetId: lan.id, owner: "other/prod/web", count: 2 });
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

function mixedSteps() {
  return [
    create(HOSTILE, { subnetId: lan.id, count: 2, tags: { token: "tag-value-never-printed" }, description: "[secret]" }),
    create("secret-address", { subnetId: lan.id, address: "[secret]" }),
    create("random", { subnetId: lan.id, strategy: "random", count: 3 }),
    create("held", { subnetId: lan.id, address: "10.70.0.12" }),
  ];
}

it("predicts around what others hold, names who holds an address, never prints a secret, and exits 3", async () => {
  const client = new pg.Client({ connectionString: context.db.url });
  await client.connect();
  const before = await databaseFingerprint(client);
  const file = await writeDigest("mixed.json", mixedSteps());

  const json = await cli(["preview-report", file, "--json"]);
  expect(json.code).toBe(3);
  const report = jsonOf(json);
  // Lowest free after other/prod/web's 10-11 and db's 12: 13, 14.
  expect(report.entries.map((e: { taken: string[]; random: number }) => [e.taken, e.random])).toEqual([
    [["10.70.0.13", "10.70.0.14"], 0],
    [[], 0],
    [[], 3],
    [[], 0],
  ]);
  expect(report.entries[1].notes).toEqual(["a specific address, secret: not shown or checked"]);
  expect(report.failures).toEqual([{ resource: "held", code: "ADDRESS_IN_USE", message: "10.70.0.12 in 10.70.0.0/24 is held by other/prod/db" }]);
  expect(report.subnets).toEqual([{ cidr: "10.70.0.0/24", poolSize: "10", before: "3", after: "8", beforePercent: "30.0 %", afterPercent: "80.0 %" }]);

  for (const args of [["--json"], ["--markdown"], []]) {
    const out = await cli(["preview-report", file, ...args]);
    const all = out.stdout + out.stderr;
    expect(out.code).toBe(3);
    for (const secret of [secretInUrl(), "tag-value-never-printed"]) expect(all).not.toContain(secret);
    // No raw control, bidi or line-breaking character from the name reaches the output.
    expect(all).not.toMatch(/[\u001b\u0007\u202e]/);
  }
  const terminal = (await cli(["preview-report", file])).stdout;
  expect(terminal).toContain("web\\u001b]0;pwned\\u0007\\u001b[2J");
  expect(terminal).toMatch(/Predicted failures \(1\)/);
  expect(await databaseFingerprint(client)).toEqual(before);
  await client.end();
});

it("renders markdown that no name can break (snapshot)", async () => {
  const md = await cli(["preview-report", await writeDigest("md.json", mixedSteps()), "--markdown"]);
  // Every row of the changes table keeps its seven cell separators: a `|` in a name is escaped.
  const rows = md.stdout.split("\n").filter((line) => line.startsWith("| ") && !line.startsWith("| ---"));
  for (const row of rows.slice(0, 5)) expect(row.replace(/\\\|/g, "").split("|").length - 1).toBe(7);
  expect(md.stdout).not.toMatch(/<img|\]\(http/);
  await expect(md.stdout).toMatchFileSnapshot("./__snapshots__/previewReport.md");
});

it("5,000 steps: each gets its own next-free address, escaped, in one read-only pass", async () => {
  const steps = Array.from({ length: 5000 }, (_, i) => create(`${HOSTILE}-${i}`, { subnetId: big.id }));
  const file = await writeDigest("many.json", steps);
  const out = await cli(["preview-report", file, "--json"]);
  expect(out.code, out.stderr).toBe(0);
  const taken = jsonOf(out).entries.map((e: { taken: string[] }) => e.taken[0]);
  expect(taken).toHaveLength(5000);
  expect(new Set(taken).size).toBe(5000);
  expect(taken.slice(0, 2)).toEqual(["10.80.0.1", "10.80.0.2"]);
  expect(taken[4999]).toBe("10.80.19.136");
  const md = await cli(["preview-report", file, "--markdown"]);
  expect(md.code).toBe(0);
  expect(md.stdout).not.toMatch(/[\u001b\u0007\u202e]/);
});

it("bad input exits 2 and names the problem; a preview without IPAM steps needs no database", async () => {
  const notJson = join(dir, "bad.json");
  await writeFile(notJson, "{ not json");
  const badShape = join(dir, "shape.json");
  await writeFile(badShape, JSON.stringify({ steps: [{ op: "create" }] }));
  for (const [args, message] of [
    [[notJson], /bad\.json: not JSON/],
    [[badShape], /shape\.json: steps\.0\.urn: .*pulumi preview --json/],
    [[join(dir, "missing.json")], /missing\.json: cannot read it \(ENOENT\)/],
    [[notJson, "--markdown", "--json"], /--markdown and --json exclude each other/],
    [[badShape, "--state", notJson], /shape\.json|bad\.json/],
  ] as const) {
    const out = await cli(["preview-report", ...args]);
    expect(out.code, out.stderr).toBe(2);
    expect(out.stderr).toMatch(message);
  }
  const empty = join(dir, "empty.json");
  // Another provider's resource, and a `get` (a read of an external allocation): nothing of this stack's moves.
  const read = { op: "read", urn: urn("held"), newState: { urn: urn("held"), type: ALLOCATION, id: "7", external: true, inputs: {}, outputs: { addresses: ["10.70.0.12"] } } };
  await writeFile(empty, JSON.stringify({ steps: [{ op: "create", urn: "urn:pulumi:ci::shop::aws:s3:Bucket::b", newState: { urn: "x", type: "aws:s3/bucket:Bucket" } }, read] }));
  const out = await runCli(["preview-report", empty], { IPAM_DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" });
  expect(out.code, out.stderr).toBe(0);
  expect(out.stdout).toContain("No IPAM resource changes in this preview.");
});

it("hold-down: next-free skips a live hold and reuses an expired one, a held address by name is ADDRESS_HELD except for its releaser", async () => {
  const { ipam } = context;
  const subnet = await ipam.createSubnet({ cidr: "10.71.0.0/28", releaseHoldSeconds: 300 });
  const taken = [];
  for (const owner of ["other/prod/a", "other/prod/b", "other/prod/c"]) taken.push((await ipam.allocate({ subnetId: subnet.id, owner })).allocation);
  expect(taken.map((t) => t.addresses[0])).toEqual(["10.71.0.1", "10.71.0.2", "10.71.0.3"]);
  await ipam.release(taken[0]!.id);
  await ipam.release(taken[1]!.id);
  // .2's hold has run out but no pick has returned it yet: the allocator returns it before its next pick.
  const client = new pg.Client({ connectionString: context.db.url });
  await client.connect();
  await client.query("UPDATE ipam.held_address SET held_until = now() - interval '1 second' WHERE address = '10.71.0.2'::inet");
  const before = await databaseFingerprint(client);
  const file = await writeDigest("held.json", [
    create("next", { subnetId: subnet.id, count: 2 }),
    create("by-name", { subnetId: subnet.id, address: "10.71.0.1" }),
    create("back", { subnetId: subnet.id, address: "10.71.0.1", __owner: "other/prod/a" }),
  ]);
  const out = await cli(["preview-report", file, "--json"]);
  expect(out.code).toBe(3);
  const report = jsonOf(out);
  expect(report.entries.map((e: { taken: string[] }) => e.taken)).toEqual([["10.71.0.2", "10.71.0.4"], [], ["10.71.0.1"]]);
  expect(report.failures).toEqual([
    { resource: "by-name", code: "ADDRESS_HELD", message: expect.stringMatching(/^10\.71\.0\.1 in 10\.71\.0\.0\/28 was released by other\/prod\/a and is in hold-down for \d+ s more/) },
  ]);
  expect(await databaseFingerprint(client)).toEqual(before);
  await client.end();
  // The allocator agrees with the prediction.
  expect((await ipam.allocate({ subnetId: subnet.id, owner: "shop/ci/next", count: 2 })).allocation.addresses).toEqual(["10.71.0.2", "10.71.0.4"]);
  await expect(ipam.allocate({ subnetId: subnet.id, owner: "shop/ci/by-name", address: "10.71.0.1" })).rejects.toMatchObject({ code: "ADDRESS_HELD" });
  expect((await ipam.allocate({ subnetId: subnet.id, owner: "other/prod/a", address: "10.71.0.1" })).allocation.addresses).toEqual(["10.71.0.1"]);
});

it("hold-down: an in-place reserved edit drops the hold it makes unallocatable, and later picks still skip the holds it keeps", async () => {
  const { ipam } = context;
  const subnet = await ipam.createSubnet({ cidr: "10.72.0.0/28", releaseHoldSeconds: 300 });
  const taken = [];
  for (const owner of ["other/prod/a", "other/prod/b", "other/prod/c", "other/prod/d"]) taken.push((await ipam.allocate({ subnetId: subnet.id, owner })).allocation);
  await ipam.release(taken[1]!.id);
  await ipam.release(taken[2]!.id);
  const SUBNET = "pulumi-nodejs:dynamic/ipam:Subnet";
  const edgeUrn = `urn:pulumi:ci::shop::${SUBNET}::edge`;
  const inputs = { cidr: "10.72.0.0/28", releaseHoldSeconds: 300 };
  const edit = {
    op: "update",
    urn: edgeUrn,
    oldState: { urn: edgeUrn, custom: true, type: SUBNET, id: subnet.id, inputs, outputs: { subnetId: subnet.id, cidr: subnet.cidr, releaseHoldSeconds: 300 } },
    newState: { urn: edgeUrn, custom: true, type: SUBNET, inputs: { ...inputs, reserved: ["10.72.0.2"] } },
  };
  const client = new pg.Client({ connectionString: context.db.url });
  await client.connect();
  const before = await databaseFingerprint(client);
  const file = await writeDigest("edit-held.json", [edit, create("after-edit", { subnetId: subnet.id })]);
  const out = await cli(["preview-report", file, "--json"]);
  expect(out.code, out.stderr).toBe(0);
  const report = jsonOf(out);
  expect(report.entries[0]).toMatchObject({ resource: "edge", holdsDropped: ["10.72.0.2"] });
  // .3 stays held: the pick after the edit is .5, not .3.
  expect(report.entries[1].taken).toEqual(["10.72.0.5"]);
  const markdown = await cli(["preview-report", file, "--markdown"]);
  const after = await databaseFingerprint(client);
  await client.end();
  expect(after).toEqual(before);
  // Markdown escapes the parentheses (markdownText).
  expect(markdown.stdout).toContain("drops the hold-down of 10.72.0.2 \\(no longer allocatable\\)");
  // The store agrees.
  await ipam.updateSubnet(subnet.id, { reserved: ["10.72.0.2"] });
  expect((await ipam.usageReport(subnet.id)).held?.map((h) => h.address)).toEqual(["10.72.0.3"]);
  expect((await ipam.allocate({ subnetId: subnet.id, owner: "shop/ci/after-edit" })).allocation.addresses).toEqual(["10.72.0.5"]);
});

import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ipam } from "../../provider/store/index.js";
import { jsonOf, runCli } from "../helpers/cliRunner.js";
import { useTestIpam } from "../helpers/openTestIpam.js";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.js";

/**
 * Issue 25, the CLI side of the streamed import: standard input is copied to a private temporary
 * file (it is read twice), which is gone afterwards whether the import worked or not; the `--json`
 * result holds counts and subnet ids, and every allocation's new id only under `--new-ids`.
 */
const source = useTestIpam("streamcli");
let dir: string;
let temp: string;
let file: string;
let text: string;
const databases: TestDatabase[] = [];

async function fresh(label: string): Promise<TestDatabase> {
  const db = await createTestDatabase(label);
  databases.push(db);
  return db;
}

beforeAll(async () => {
  const { ipam } = source;
  const a = await ipam.createSubnet({ cidr: "10.70.0.0/24", namespace: "a" });
  const b = await ipam.createSubnet({ cidr: "2001:db8:70::/64", namespace: "b" });
  for (let i = 0; i < 30; i += 1) await ipam.allocate({ subnetId: i % 2 === 0 ? a.id : b.id, owner: `s${i}`, idempotencyKey: `k${i}`, count: 1 + (i % 3) });
  dir = await mkdtemp(join(tmpdir(), "ipam-streamed-cli-"));
  temp = await mkdtemp(join(tmpdir(), "ipam-streamed-cli-tmp-"));
  file = join(dir, "snapshot.json");
  text = "";
  await ipam.writeSnapshot({}, async (chunk) => {
    text += chunk;
  });
  await writeFile(file, text);
});
afterAll(async () => {
  for (const db of databases) await db.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
  if (temp) await rm(temp, { recursive: true, force: true });
});

describe("ipam import, streamed (issue 25)", () => {
  it("imports standard input and leaves no temporary file; a bad standard input leaves none either and writes nothing", async () => {
    const db = await fresh("streamclistdin");
    const env = { IPAM_DATABASE_URL: db.url, TMPDIR: temp };
    const result = await runCli(["import", "-", "--json"], env, text);
    expect(result.code).toBe(0);
    expect(jsonOf(result)).toMatchObject({ subnets: 2, allocations: 30, addresses: 60 });
    expect(await readdir(temp)).toEqual([]);
    const ipam = await Ipam.open({ databaseUrl: db.url });
    try {
      const copy = await ipam.exportSnapshot();
      expect({ ...copy, exportedAt: null }).toEqual({ ...JSON.parse(text), exportedAt: null });
    } finally {
      await ipam.close();
    }
    // Cut half-way: refused before anything is written, and the copy of stdin removed.
    const other = await fresh("streamclistdinbad");
    const cut = await runCli(["import", "-"], { IPAM_DATABASE_URL: other.url, TMPDIR: temp }, text.slice(0, text.length / 2));
    expect(cut.code).not.toBe(0);
    expect(cut.stderr).toContain("file: - is not JSON: Unexpected end of JSON input");
    expect(await readdir(temp)).toEqual([]);
    const check = await runCli(["import", "--check", "--json", "-"], { TMPDIR: temp }, text);
    expect(jsonOf(check)).toEqual({ valid: true, subnets: 2, allocations: 30 });
    expect(await readdir(temp)).toEqual([]);
  });

  it("--json holds counts and subnet ids; with --new-ids every allocation's new id, as an object a JSON reader maps", async () => {
    const db = await fresh("streamclijson");
    const env = { IPAM_DATABASE_URL: db.url, TMPDIR: temp };
    const kept = jsonOf(await runCli(["import", file, "--json"], env));
    expect(Object.keys(kept)).toEqual(["subnets", "allocations", "addresses", "subnetIds"]);
    // Under new ids into a database whose ids 1, 2, ... are taken by other rows.
    const renumberedDb = await fresh("streamclinewids");
    const squatter = await Ipam.open({ databaseUrl: renumberedDb.url });
    try {
      const other = await squatter.createSubnet({ cidr: "192.168.70.0/24", namespace: "z" });
      for (let i = 0; i < 5; i += 1) await squatter.allocate({ subnetId: other.id, owner: "z" });
    } finally {
      await squatter.close();
    }
    const renumbered = await runCli(["import", file, "--new-ids", "--json"], { IPAM_DATABASE_URL: renumberedDb.url, TMPDIR: temp });
    expect(renumbered.code).toBe(0);
    const result = jsonOf(renumbered);
    const original = JSON.parse(text);
    expect(Object.keys(result.allocationIds).sort()).toEqual(original.allocations.map((a: { id: string }) => a.id).sort());
    expect(new Set(Object.values(result.allocationIds)).size).toBe(original.allocations.length);
    expect(Object.values(result.allocationIds)).not.toContain(original.allocations[0].id);
    const ipam = await Ipam.open({ databaseUrl: renumberedDb.url });
    try {
      const now = await ipam.exportSnapshot();
      for (const allocation of original.allocations) {
        const copy = now.allocations.find((a) => a.id === result.allocationIds[allocation.id]);
        expect(copy).toEqual({ ...allocation, id: result.allocationIds[allocation.id], subnetId: result.subnetIds[allocation.subnetId] });
      }
    } finally {
      await ipam.close();
    }
    // An empty file under --new-ids: the map is an empty object.
    const empty = join(dir, "empty.json");
    await writeFile(empty, JSON.stringify({ format: original.format, subnets: [], allocations: [] }));
    expect(jsonOf(await runCli(["import", empty, "--new-ids", "--json"], env))).toEqual({ subnets: 0, allocations: 0, addresses: 0, subnetIds: {}, allocationIds: {} });
    expect(await readdir(temp)).toEqual([]);
    expect((await readFile(file, "utf8")).length).toBe(text.length);
  });

  it("removes the copy of standard input when interrupted, then ends as the signal would have it", async () => {
    const main = fileURLToPath(new URL("../../dist/provider/cli/main.js", import.meta.url));
    const child = spawn(process.execPath, [main, "import", "--check", "-"], { env: { PATH: process.env.PATH ?? "", TMPDIR: temp }, stdio: ["pipe", "ignore", "ignore"] });
    child.stdin.write(text.slice(0, 200));
    // Standard input stays open: the copy is under way. Bounded wait for it to appear.
    for (let i = 0; i < 200 && (await readdir(temp)).length === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 50));
    const [copyDir] = await readdir(temp);
    expect(await readdir(join(temp, copyDir!))).toEqual(["stdin.json"]);
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: null, signal: "SIGTERM" });
    expect(await readdir(temp)).toEqual([]);
  });
});

import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ipam } from "../../provider/store/index.js";
import { freeIndexComparison } from "../helpers/freeIndex.js";
import { jsonError, jsonOf, runCli } from "../helpers/cliRunner.js";
import { useTestIpam } from "../helpers/openTestIpam.js";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.js";

const source = useTestIpam("cliexport");
let target: TestDatabase;
let other: TestDatabase;
let dir: string;
const on = (db: { url: string }) => (args: string[], stdin?: string) => runCli(args, { IPAM_DATABASE_URL: db.url }, stdin);
const withoutTime = (snapshot: Record<string, unknown>) => ({ ...snapshot, exportedAt: undefined });

beforeAll(async () => {
  target = await createTestDatabase("cliimport");
  other = await createTestDatabase("cliimport2");
  dir = await mkdtemp(join(tmpdir(), "ipam-cli-export-"));
  const core = source.ipam;
  const web = await core.createSubnet({ cidr: "10.60.0.0/24", namespace: "prod", gateway: "10.60.0.1", allocationPools: [{ start: "10.60.0.10", end: "10.60.0.99" }], reserved: ["10.60.0.50/31"], description: "web", tags: { team: "net" } });
  const v6 = await core.createSubnet({ cidr: "2001:db8:60::/64", namespace: "prod" });
  await core.createSubnet({ cidr: "10.61.0.0/28", namespace: "lab" });
  await core.allocate({ subnetId: web.id, owner: "p/s/web", idempotencyKey: "p/s/web", count: 4, description: "web nodes", tags: { env: "prod" } });
  await core.allocate({ subnetId: web.id, owner: "p/s/lb", address: "10.60.0.200", idempotencyKey: "p/s/lb" });
  const gone = await core.allocate({ subnetId: web.id, owner: "p/s/tmp", count: 2 });
  await core.allocate({ subnetId: web.id, owner: "p/s/rnd", strategy: "random", count: 5 });
  await core.release(gone.allocation.id);
  await core.allocate({ subnetId: v6.id, owner: "p/s/v6", strategy: "random", count: 3, idempotencyKey: "p/s/v6" });
});
afterAll(async () => {
  await target?.drop();
  await other?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("ipam export / import", () => {
  it("exports a versioned snapshot that imports into a fresh database as the same subnets and allocations", async () => {
    const file = join(dir, "backup.json");
    const exported = await on(source.db)(["export", "--out", file]);
    expect(exported.code).toBe(0);
    expect(exported.stderr).toContain("wrote 3 subnet(s) and 4 allocation(s)");
    const snapshot = JSON.parse(await readFile(file, "utf8"));
    expect(snapshot).toMatchObject({ format: "pulumi-ipam/v1", subnets: expect.any(Array), allocations: expect.any(Array) });
    expect(jsonOf(await on(source.db)(["export"]))).toEqual({ ...snapshot, exportedAt: expect.any(String) });
    expect(snapshot.allocations.map((a: { owner: string }) => a.owner).sort()).toEqual(["p/s/lb", "p/s/rnd", "p/s/v6", "p/s/web"]);

    const imported = jsonOf(await on(target)(["import", file, "--json"]));
    expect(imported).toMatchObject({ subnets: 3, allocations: 4, addresses: 13 });
    const again = jsonOf(await on(target)(["export"]));
    expect(withoutTime(again)).toEqual(withoutTime(snapshot));

    // The imported state behaves like the original: keys replay, the free index is exact, history records the import.
    const ipam = await Ipam.open({ databaseUrl: target.url, migrate: false });
    try {
      const web = snapshot.subnets.find((s: { cidr: string }) => s.cidr === "10.60.0.0/24");
      const replay = await ipam.allocate({ subnetId: web.id, owner: "p/s/web", idempotencyKey: "p/s/web", count: 4 });
      expect(replay.created).toBe(false);
      expect(replay.allocation.addresses).toEqual(snapshot.allocations.find((a: { owner: string }) => a.owner === "p/s/web").addresses);
      for (const subnet of await ipam.listSubnets()) {
        const { stored, expected } = await freeIndexComparison(target.url, subnet);
        expect(stored).toEqual(expected);
      }
      const next = await ipam.allocate({ subnetId: web.id, owner: "new" });
      expect(snapshot.allocations.flatMap((a: { addresses: string[] }) => a.addresses)).not.toContain(next.allocation.addresses[0]);
      const fresh = await ipam.createSubnet({ cidr: "10.99.0.0/24" });
      expect(Number(fresh.id)).toBeGreaterThan(Math.max(...snapshot.subnets.map((s: { id: string }) => Number(s.id))));
      const history = await ipam.history({ subnetId: web.id });
      expect(history.events.map((e) => e.action)).toEqual(expect.arrayContaining(["subnet.import", "allocation.import"]));
      await ipam.release(next.allocation.id);
      await ipam.deleteSubnet(fresh.id);
    } finally {
      await ipam.close();
    }
  });

  it("refuses a file whose ids or subnets already exist and changes nothing; --new-ids imports beside existing data", async () => {
    const file = join(dir, "backup.json");
    const before = jsonOf(await on(target)(["export"]));
    const conflict = await on(target)(["import", file, "--json"]);
    expect(conflict.code).toBe(1);
    expect(jsonError(conflict)).toMatchObject({ code: "CONFLICT", field: "subnets.id" });
    const overlap = await on(target)(["import", file, "--new-ids", "--json"]);
    expect(overlap.code).toBe(1);
    expect(jsonError(overlap)).toMatchObject({ code: "OVERLAP", namespace: "prod" });
    expect(withoutTime(jsonOf(await on(target)(["export"])))).toEqual(withoutTime(before));

    // A database that already uses id 1 for something else: the file lands under new ids.
    const core = await Ipam.open({ databaseUrl: other.url });
    try {
      await core.createSubnet({ cidr: "192.168.0.0/24", namespace: "elsewhere" });
    } finally {
      await core.close();
    }
    expect(jsonError(await on(other)(["import", file, "--json"]))).toMatchObject({ code: "CONFLICT", field: "subnets.id" });
    const renumbered = jsonOf(await on(other)(["import", file, "--new-ids", "--json"]));
    expect(renumbered).toMatchObject({ subnets: 3, allocations: 4, addresses: 13 });
    const original = JSON.parse(await readFile(file, "utf8"));
    const result = jsonOf(await on(other)(["export"]));
    for (const subnet of original.subnets) {
      const copy = result.subnets.find((s: { id: string }) => s.id === renumbered.subnetIds[subnet.id]);
      expect(copy).toEqual({ ...subnet, id: renumbered.subnetIds[subnet.id] });
    }
    for (const allocation of original.allocations) {
      const copy = result.allocations.find((a: { id: string }) => a.id === renumbered.allocationIds[allocation.id]);
      expect(copy).toEqual({ ...allocation, id: renumbered.allocationIds[allocation.id], subnetId: renumbered.subnetIds[allocation.subnetId] });
    }
  });

  it("validates every record like the core, names each bad field, and imports nothing from an invalid file", async () => {
    const original = JSON.parse(await readFile(join(dir, "backup.json"), "utf8"));
    const fresh = await createTestDatabase("cliimportbad");
    try {
      expect((await on(fresh)(["migrate"])).code).toBe(0);
      const cases: [string, (s: any) => void, string, string][] = [
        ["gateway taken", (s) => { s.allocations[0].addresses[0] = "10.60.0.1"; }, "allocations.0.addresses.0", "gateway"],
        ["reserved taken", (s) => { s.allocations[0].addresses[1] = "10.60.0.50"; }, "allocations.0.addresses.1", "reserved"],
        ["held twice", (s) => { s.allocations[1].addresses[0] = s.allocations[0].addresses[0]; }, "allocations.1.addresses.0", "also held by allocation"],
        ["outside the subnet", (s) => { s.allocations[0].addresses[0] = "10.7.0.1"; }, "allocations.0.addresses.0", "not inside"],
        ["bad cidr", (s) => { s.subnets[1].cidr = "2001:db8:60::1/64"; }, "subnets.1.cidr", "host bits"],
        ["overlapping siblings", (s) => { s.subnets.push({ ...s.subnets.find((x: { cidr: string }) => x.cidr === "10.60.0.0/24"), id: "77", cidr: "10.60.0.128/25", gateway: null, allocationPools: null, reserved: [] }); }, `subnets.${original.subnets.length}.cidr`, "overlaps subnet"],
        ["unknown subnet", (s) => { s.allocations[0].subnetId = "4242"; }, "allocations.0.subnetId", "not in the file"],
        ["unknown field", (s) => { s.subnets[0].colour = "red"; }, "subnets.0", 'unknown field "colour"'],
        ["wrong format", (s) => { s.format = "pulumi-ipam/v0"; }, "format", "pulumi-ipam/v1"],
        ["empty owner", (s) => { s.allocations[2].owner = ""; }, "allocations.2.owner", "must not be empty"],
      ];
      for (const [name, mutate, field, reason] of cases) {
        const broken = structuredClone(original);
        mutate(broken);
        const path = join(dir, `broken.json`);
        await writeFile(path, JSON.stringify(broken));
        const result = await on(fresh)(["import", path, "--json"]);
        expect(result.code, name).toBe(1);
        const error = jsonError(result);
        expect(error.code, name).toBe("INVALID_INPUT");
        expect(error.issues, name).toContainEqual({ field, reason: expect.stringContaining(reason) });
        const check = await on(fresh)(["import", path, "--check"]);
        expect(check.code, name).toBe(1);
      }
      const notJson = await on(fresh)(["import", "-", "--json"], "{ not json");
      expect(jsonError(notJson)).toMatchObject({ code: "INVALID_INPUT", issues: [{ field: "file" }] });
      expect(jsonError(await on(fresh)(["import", join(dir, "missing.json"), "--json"]))).toMatchObject({ issues: [{ field: "file", reason: expect.stringContaining("ENOENT") }] });
      expect((await on(fresh)(["subnet", "list", "--json"])).stdout.trim()).toBe("[]");
      const valid = await on(fresh)(["import", "-", "--check", "--json"], JSON.stringify(original));
      expect(jsonOf(valid)).toEqual({ valid: true, subnets: 3, allocations: 4 });
      expect((await on(fresh)(["subnet", "list", "--json"])).stdout.trim()).toBe("[]");
    } finally {
      await fresh.drop();
    }
  });
});

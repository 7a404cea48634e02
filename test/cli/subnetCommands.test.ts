import { describe, expect, it } from "vitest";
import { jsonError, jsonOf, runCli } from "../helpers/cliRunner.js";
import { createTestDatabase } from "../helpers/testDatabase.js";
import { freeIndexComparison } from "../helpers/freeIndex.js";
import { useTestIpam } from "../helpers/openTestIpam.js";
import { loadMigrations } from "../../provider/store/index.js";

const context = useTestIpam("clisubnet");
const ipam = (args: string[]) => runCli(args, { IPAM_DATABASE_URL: context.db.url });

describe("exit codes and usage errors", () => {
  it("0 for help, 2 for bad usage (unknown command, missing subcommand, missing or malformed flags)", async () => {
    const help = await ipam(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: ipam");
    for (const command of ["db", "migrate", "subnet", "alloc", "release", "resize", "usage", "map", "history", "export", "import", "demo"]) {
      expect(help.stdout).toContain(command);
    }
    const unknown = await ipam(["frobnicate"]);
    expect(unknown).toMatchObject({ code: 2 });
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    expect((await ipam(["subnet"])).code).toBe(2);
    const noOwner = await ipam(["alloc", "1"]);
    expect(noOwner.code).toBe(2);
    expect(noOwner.stderr).toContain("--owner");
    const badCount = await ipam(["alloc", "1", "--owner", "o", "--count", "three"]);
    expect(badCount.code).toBe(2);
    expect(badCount.stderr).toContain("must be a whole number");
    expect((await ipam(["release"])).code).toBe(2);
    expect((await ipam(["release", "1", "--subnet", "1", "--address", "10.0.0.1"])).code).toBe(2);
    expect((await ipam(["subnet", "create", "10.1.0.0/24", "--tag", "novalue"])).code).toBe(2);
    expect((await ipam(["subnet", "update", "1", "--pool", "10.1.0.5-10.1.0.9", "--default-pools"])).code).toBe(2);
  });

  it("1 with the error code and the field when the core refuses, and nothing changes", async () => {
    const before = jsonOf<unknown[]>(await ipam(["subnet", "list", "--json"]));
    const hostBits = await ipam(["subnet", "create", "10.9.0.1/24", "--json"]);
    expect(hostBits.code).toBe(1);
    expect(jsonError(hostBits)).toMatchObject({ code: "INVALID_INPUT", issues: [{ field: "cidr", reason: expect.stringContaining("host bits set; the network is 10.9.0.0/24") }] });
    const several = await ipam(["subnet", "create", "10.9.0.0/24", "--gateway", "10.8.0.1", "--pool", "10.9.0.300-10.9.0.5", "--json"]);
    expect(several.code).toBe(1);
    expect(jsonError(several).issues!.map((issue) => issue.field).sort()).toEqual(["allocationPools.0.start", "gateway"]);
    const text = await ipam(["subnet", "create", "10.9.0.0/24", "--gateway", "10.8.0.1"]);
    expect(text.code).toBe(1);
    expect(text.stderr).toMatch(/^error: INVALID_INPUT: gateway: 10\.8\.0\.1 is not a usable address of 10\.9\.0\.0\/24/);
    const zero = await ipam(["alloc", "1", "--owner", "o", "--count", "0"]);
    expect(zero.code).toBe(1);
    expect(zero.stderr).toContain("count: must be at least 1");
    expect(jsonOf<unknown[]>(await ipam(["subnet", "list", "--json"]))).toEqual(before);
  });

  it("never prints the connection string or its password, whatever fails", async () => {
    const admin = new URL(context.db.url);
    const missingDatabase = new URL(context.db.url);
    missingDatabase.password = "s3cr3t-pw-123";
    missingDatabase.pathname = "/no_such_database_here";
    const refused = "postgres://ipam:s3cr3t-pw-123@127.0.0.1:1/ipam";
    for (const url of [missingDatabase.toString(), refused]) {
      for (const args of [["subnet", "list"], ["alloc", "1", "--owner", "o"], ["migrate"], ["subnet", "list", "--json"]]) {
        const result = await runCli(args, { IPAM_DATABASE_URL: url });
        expect(result.code).toBe(1);
        expect(result.stderr).toMatch(/DATABASE_UNAVAILABLE/);
        for (const output of [result.stdout, result.stderr]) {
          expect(output).not.toContain("s3cr3t-pw-123");
          expect(output).not.toContain("postgres://");
          expect(output).not.toContain(admin.host);
        }
      }
    }
  });
});

describe("ipam migrate", () => {
  it("applies the migrations on a fresh database and says which; reads before it point to it", async () => {
    const fresh = await createTestDatabase("climigrate");
    try {
      const env = { IPAM_DATABASE_URL: fresh.url };
      const read = await runCli(["subnet", "list"], env);
      expect(read.code).toBe(1);
      expect(read.stderr).toContain("run `ipam migrate`");
      // Every shipped migration, in order: the list grows as migrations are added.
      const names = (await loadMigrations()).map((m) => `${String(m.version).padStart(4, "0")}_${m.name}`);
      expect(names[0]).toBe("0001_initial");
      expect(jsonOf(await runCli(["migrate", "--json"], env))).toEqual({ schema: "ipam", applied: names, latest: names.at(-1) });
      const again = await runCli(["migrate"], env);
      expect(again.code).toBe(0);
      expect(again.stdout).toContain(`schema ipam is up to date (${names.at(-1)})`);
      const other = await runCli(["--schema", "tenant_b", "migrate"], env);
      expect(other.stdout).toContain("applied 0001_initial");
      expect((await runCli(["--schema", "Bad-Name", "subnet", "list"], env)).stderr).toContain("CONFIGURATION: schema must be a lower-case identifier");
    } finally {
      await fresh.drop();
    }
  });
});

describe("ipam subnet", () => {
  it("creates, lists, shows (by id or CIDR), updates and deletes, with the core's answers as JSON", async () => {
    const created = jsonOf(
      await ipam(["subnet", "create", "10.20.0.0/24", "--namespace", "prod", "--gateway", "10.20.0.1", "--pool", "10.20.0.10-10.20.0.250",
        "--reserved", "10.20.0.100", "--reserved", "10.20.0.128/29", "--description", "prod web", "--tag", "team=net", "--tag", "tier=web", "--json"]),
    );
    expect(created).toEqual(await context.ipam.getSubnet(created.id));
    expect(created).toMatchObject({
      namespace: "prod", cidr: "10.20.0.0/24", gateway: "10.20.0.1", allocationPools: [{ start: "10.20.0.10", end: "10.20.0.250" }],
      allocationPoolsExplicit: true, reserved: ["10.20.0.100", "10.20.0.128/29"], description: "prod web", tags: { team: "net", tier: "web" },
    });
    const list = await ipam(["subnet", "list", "--namespace", "prod"]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/10\.20\.0\.0\/24 .*10\.20\.0\.1 .*10\.20\.0\.10-10\.20\.0\.250/);
    expect(jsonOf(await ipam(["subnet", "list", "--json", "--namespace", "prod"]))).toEqual([created]);

    const overlap = await ipam(["subnet", "create", "10.20.0.128/25", "--namespace", "prod", "--json"]);
    expect(overlap.code).toBe(1);
    expect(jsonError(overlap)).toMatchObject({ code: "OVERLAP", message: expect.stringContaining(`subnet ${created.id} (10.20.0.0/24)`) });

    const allocation = jsonOf(await ipam(["alloc", "10.20.0.0/24", "--namespace", "prod", "--owner", "app/web", "--json"])).allocation;
    const shown = jsonOf(await ipam(["subnet", "show", "10.20.0.0/24", "--json"]));
    expect(shown.subnet).toEqual(created);
    expect(shown.allocations).toEqual([allocation]);
    expect(shown.usage).toMatchObject({ allocated: "1", poolSize: String(241 - 1 - 8), outsidePool: "0" });
    expect(jsonOf(await ipam(["subnet", "show", created.id, "--json"]))).toEqual(shown);
    const showText = await ipam(["subnet", "show", created.id]);
    expect(showText.stdout).toContain("app/web");
    expect(showText.stdout).toContain("1 of 232 pool addresses in use");

    const updated = jsonOf(await ipam(["subnet", "update", created.id, "--pool", "10.20.0.20-10.20.0.99", "--clear-reserved", "--no-gateway", "--tag", "team=core", "--json"]));
    expect(updated.subnet).toMatchObject({ gateway: null, reserved: [], allocationPools: [{ start: "10.20.0.20", end: "10.20.0.99" }], tags: { team: "core" }, description: "prod web" });
    expect(updated.allocationsOutsidePools).toEqual(["10.20.0.10"]);
    const restored = jsonOf(await ipam(["subnet", "update", "10.20.0.0/24", "--default-pools", "--gateway", "10.20.0.254", "--json"]));
    expect(restored.subnet).toMatchObject({ gateway: "10.20.0.254", allocationPoolsExplicit: false, allocationPools: [{ start: "10.20.0.1", end: "10.20.0.253" }] });
    const blocked = await ipam(["subnet", "update", created.id, "--gateway", "10.20.0.10", "--json"]);
    expect(blocked.code).toBe(1);
    expect(jsonError(blocked)).toMatchObject({ code: "CONFLICT", field: "gateway", addresses: ["10.20.0.10"] });
    expect((await context.ipam.getSubnet(created.id)).gateway).toBe("10.20.0.254");

    const inUse = await ipam(["subnet", "delete", created.id, "--json"]);
    expect(inUse.code).toBe(1);
    expect(jsonError(inUse)).toMatchObject({ code: "SUBNET_IN_USE", allocationCount: 1 });
    expect((await ipam(["release", allocation.id])).code).toBe(0);
    expect(jsonOf(await ipam(["subnet", "delete", "10.20.0.0/24", "--json"]))).toEqual({ subnetId: created.id, deleted: true });
    expect((await ipam(["subnet", "delete", created.id])).stdout).toContain(`subnet ${created.id} did not exist`);
    const missing = await ipam(["subnet", "show", "10.20.0.0/24", "--json"]);
    expect(missing.code).toBe(1);
    expect(jsonError(missing)).toMatchObject({ code: "NOT_FOUND", entity: "subnet" });
  });

  it("asks for --namespace when a CIDR exists in several namespaces", async () => {
    await context.ipam.createSubnet({ cidr: "10.30.0.0/24", namespace: "blue" });
    const green = await context.ipam.createSubnet({ cidr: "10.30.0.0/24", namespace: "green" });
    const ambiguous = await ipam(["subnet", "show", "10.30.0.0/24", "--json"]);
    expect(ambiguous.code).toBe(1);
    expect(jsonError(ambiguous).issues).toEqual([{ field: "subnet", reason: expect.stringContaining('"blue"') }]);
    expect(jsonOf(await ipam(["subnet", "show", "10.30.0.0/24", "--namespace", "green", "--json"])).subnet.id).toBe(green.id);
  });
});

describe("ipam alloc, release, resize", () => {
  it("allocates next, specific, many and random, replays idempotency keys, and keeps the free index exact", async () => {
    const subnet = await context.ipam.createSubnet({ cidr: "10.40.0.0/27", namespace: "alloc", gateway: "10.40.0.1", reserved: ["10.40.0.2"] });
    const first = jsonOf(await ipam(["alloc", subnet.id, "--owner", "proj/stack/web", "--key", "proj/stack/web", "--json"]));
    expect(first).toMatchObject({ created: true, allocation: { owner: "proj/stack/web", addresses: ["10.40.0.3"], idempotencyKey: "proj/stack/web" } });
    const replay = jsonOf(await ipam(["alloc", subnet.id, "--owner", "proj/stack/web", "--key", "proj/stack/web", "--json"]));
    expect(replay).toEqual({ created: false, allocation: first.allocation, subnet: first.subnet });
    const replayText = await ipam(["alloc", subnet.id, "--owner", "proj/stack/web", "--key", "proj/stack/web"]);
    expect(replayText.stdout).toContain("already allocated by an earlier request with this key: 10.40.0.3");
    const specific = jsonOf(await ipam(["alloc", "10.40.0.0/27", "--owner", "lb", "--address", "10.40.0.20", "--json"]));
    expect(specific.allocation).toMatchObject({ strategy: "specific", addresses: ["10.40.0.20"] });
    const many = jsonOf(await ipam(["alloc", subnet.id, "--owner", "k8s", "--count", "4", "--description", "nodes", "--tag", "env=prod", "--json"]));
    expect(many.allocation).toMatchObject({ addresses: ["10.40.0.4", "10.40.0.5", "10.40.0.6", "10.40.0.7"], description: "nodes", tags: { env: "prod" } });
    const random = jsonOf(await ipam(["alloc", subnet.id, "--owner", "rnd", "--strategy", "random", "--count", "3", "--json"]));
    expect(random.allocation.addresses).toHaveLength(3);

    for (const [args, field, reason] of [
      [["--address", "10.40.0.2"], "address", "reserved"],
      [["--address", "10.40.0.1"], "address", "gateway"],
      [["--address", "10.40.1.1"], "address", "not inside"],
      [["--strategy", "clever"], "strategy", 'must be "sequential" or "random"'],
      [["--address", "10.40.0.21", "--count", "2"], "count", "must be 1"],
    ] as const) {
      const refused = await ipam(["alloc", subnet.id, "--owner", "x", ...args, "--json"]);
      expect(refused.code).toBe(1);
      expect(jsonError(refused).issues).toEqual([{ field, reason: expect.stringContaining(reason) }]);
    }
    const taken = await ipam(["alloc", subnet.id, "--owner", "x", "--address", "10.40.0.20", "--json"]);
    expect(jsonError(taken)).toMatchObject({ code: "ADDRESS_IN_USE", address: "10.40.0.20" });
    const exhausted = await ipam(["alloc", subnet.id, "--owner", "x", "--count", "100", "--json"]);
    expect(jsonError(exhausted)).toMatchObject({ code: "SUBNET_EXHAUSTED", requested: 100 });

    const shrunk = jsonOf(await ipam(["resize", many.allocation.id, "--count", "2", "--json"]));
    expect(shrunk.released).toEqual(["10.40.0.6", "10.40.0.7"]);
    const byAddress = await ipam(["release", "--subnet", "10.40.0.0/27", "--address", "10.40.0.20"]);
    expect(byAddress.code).toBe(0);
    expect(byAddress.stdout).toContain(`released allocation ${specific.allocation.id}: 10.40.0.20`);
    const notHeld = await ipam(["release", "--subnet", subnet.id, "--address", "10.40.0.20", "--json"]);
    expect(notHeld.code).toBe(1);
    expect(jsonError(notHeld)).toMatchObject({ code: "NOT_FOUND", entity: "address" });
    expect(jsonOf(await ipam(["release", first.allocation.id, "--json"]))).toEqual({ allocationId: first.allocation.id, released: true, addresses: ["10.40.0.3"] });
    expect(jsonOf(await ipam(["release", first.allocation.id, "--json"]))).toEqual({ allocationId: first.allocation.id, released: false, addresses: [] });
    expect(jsonError(await ipam(["release", "abc", "--json"]))).toMatchObject({ code: "INVALID_INPUT", issues: [{ field: "allocationId" }] });

    const { stored, expected } = await freeIndexComparison(context.db.url, subnet);
    expect(stored).toEqual(expected);
    const usage = await context.ipam.usage(subnet.id);
    expect(usage).toMatchObject({ allocated: "5" });
  });
});

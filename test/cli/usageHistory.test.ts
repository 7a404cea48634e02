import { beforeAll, describe, expect, it } from "vitest";
import type { Subnet } from "../../provider/core/types.js";
import { jsonError, jsonOf, runCli } from "../helpers/cliRunner.js";
import { useTestIpam } from "../helpers/openTestIpam.js";

const context = useTestIpam("cliusage");
const ipam = (args: string[]) => runCli(args, { IPAM_DATABASE_URL: context.db.url });

let web: Subnet;
let v6: Subnet;
const ids: Record<string, string> = {};

beforeAll(async () => {
  const core = context.ipam;
  web = await core.createSubnet({ cidr: "10.50.0.0/24", namespace: "prod", gateway: "10.50.0.1", allocationPools: [{ start: "10.50.0.10", end: "10.50.0.59" }], reserved: ["10.50.0.20/30"] });
  v6 = await core.createSubnet({ cidr: "2001:db8:50::/64", namespace: "prod" });
  await core.createSubnet({ cidr: "10.51.0.0/24", namespace: "staging" });
  ids.web = (await core.allocate({ subnetId: web.id, owner: "shop/prod/web", count: 3 })).allocation.id;
  ids.lb = (await core.allocate({ subnetId: web.id, owner: "shop/prod/lb", address: "10.50.0.200" })).allocation.id;
  ids.db = (await core.allocate({ subnetId: web.id, owner: "shop/prod/db" })).allocation.id;
  ids.v6 = (await core.allocate({ subnetId: v6.id, owner: "shop/prod/web", strategy: "random", count: 2 })).allocation.id;
  await core.release(ids.db);
  await core.resizeAllocation({ allocationId: ids.web, count: 2 });
});

describe("ipam usage", () => {
  it("reports each subnet's pool use, holders and the allocations outside the pools, and namespace totals", async () => {
    const report = jsonOf(await ipam(["usage", "--json"]));
    const webReport = report.subnets.find((s: { subnet: Subnet }) => s.subnet.id === web.id);
    // pool 10-59 (50) minus reserved 20-23 (4) = 46; web holds 2 in the pool, lb 1 outside it.
    expect(webReport.usage).toEqual({
      subnetId: web.id, cidr: "10.50.0.0/24", total: "256", poolSize: "46", allocated: "3", free: "44", outsidePool: "1", held: "0",
      childPrefixes: 0, childAddresses: "0", childSpaceFree: String(256 - 1 - 4 - 3),
    });
    expect(webReport.owners).toEqual([
      { owner: "shop/prod/web", allocations: 1, addresses: "2" },
      { owner: "shop/prod/lb", allocations: 1, addresses: "1" },
    ]);
    expect(webReport.outsidePool).toEqual([{ address: "10.50.0.200", owner: "shop/prod/lb", allocationId: ids.lb }]);
    expect(report.namespaces).toEqual(
      expect.arrayContaining([
        { namespace: "prod", ipVersion: 4, subnets: 1, poolSize: "46", inUse: "2", allocated: "3", outsidePool: "1" },
        { namespace: "prod", ipVersion: 6, subnets: 1, poolSize: "18446744073709551615", inUse: "2", allocated: "2", outsidePool: "0" },
        { namespace: "staging", ipVersion: 4, subnets: 1, poolSize: "254", inUse: "0", allocated: "0", outsidePool: "0" },
      ]),
    );
    expect(report.subnets.map((s: { subnet: Subnet }) => s.subnet.id)).toHaveLength(3);
    const staging = jsonOf(await ipam(["usage", "--namespace", "staging", "--json"]));
    expect(staging.subnets).toHaveLength(1);
    expect(jsonOf(await ipam(["usage", "10.50.0.0/24", "--json"])).subnets).toEqual([webReport]);
  });

  it("draws bars, flags the addresses outside the pools and lists the owners", async () => {
    const text = await ipam(["usage", web.id]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/10\.50\.0\.0\/24 +│ █░{19} +4\.34% │ +2 \/ 46 │/);
    expect(text.stdout).toContain("⚠ Allocated outside the pools");
    expect(text.stdout).toMatch(/10\.50\.0\.200 +│ shop\/prod\/lb +│ +\d+ │/);
    expect(text.stdout).toMatch(/shop\/prod\/web +│ +1 │ +2 │/);
    expect(text.stdout).not.toMatch(/\u001b\[/);
    const missing = await ipam(["usage", "99999", "--json"]);
    expect(missing.code).toBe(1);
    expect(jsonError(missing)).toMatchObject({ code: "NOT_FOUND" });
  });
});

describe("ipam history", () => {
  it("shows who allocated, resized and released what, newest first, filtered by subnet, address, owner or allocation", async () => {
    const all = jsonOf(await ipam(["history", "--subnet", web.id, "--json"]));
    expect(all.events.map((e: { action: string }) => e.action)).toEqual(["shrink", "release", "allocate", "allocate", "allocate", "subnet.create"]);
    const [shrink, release, allocateDb, allocateLb, allocateWeb, create] = all.events;
    expect(allocateWeb).toMatchObject({ owner: "shop/prod/web", allocationId: ids.web, addresses: ["10.50.0.10", "10.50.0.11", "10.50.0.12"], addressCount: 3, subnetId: web.id, cidr: "10.50.0.0/24" });
    expect(allocateLb).toMatchObject({ owner: "shop/prod/lb", addresses: ["10.50.0.200"] });
    expect(allocateDb).toMatchObject({ owner: "shop/prod/db", addresses: ["10.50.0.13"] });
    expect(release).toMatchObject({ owner: "shop/prod/db", allocationId: ids.db, addresses: ["10.50.0.13"] });
    expect(shrink).toMatchObject({ owner: "shop/prod/web", addresses: ["10.50.0.12"] });
    expect(create).toMatchObject({ owner: null, detail: { namespace: "prod" } });
    expect(new Date(shrink.at).getTime()).toBeGreaterThanOrEqual(new Date(create.at).getTime());

    const address = jsonOf(await ipam(["history", "--address", "10.50.0.13", "--json"]));
    expect(address.events.map((e: { action: string; owner: string }) => `${e.action} ${e.owner}`)).toEqual(["release shop/prod/db", "allocate shop/prod/db"]);
    const owner = jsonOf(await ipam(["history", "--owner", "shop/prod/web", "--json"]));
    expect(owner.events.map((e: { action: string; subnetId: string }) => `${e.action} ${e.subnetId}`)).toEqual([`shrink ${web.id}`, `allocate ${v6.id}`, `allocate ${web.id}`]);
    const allocation = jsonOf(await ipam(["history", "--allocation", ids.web, "--json"]));
    expect(allocation.events.map((e: { action: string }) => e.action)).toEqual(["shrink", "allocate"]);
    expect(jsonOf(await ipam(["history", "--since", "2999-01-01", "--json"])).events).toEqual([]);

    const page1 = jsonOf(await ipam(["history", "--subnet", "10.50.0.0/24", "--namespace", "prod", "--limit", "4", "--json"]));
    expect(page1.events).toHaveLength(4);
    const page2 = jsonOf(await ipam(["history", "--subnet", web.id, "--limit", "4", "--before", page1.next, "--json"]));
    expect([...page1.events, ...page2.events]).toEqual(all.events);
    expect(page2.next).toBeNull();

    const text = await ipam(["history", "--subnet", web.id]);
    expect(text.stdout).toMatch(/release +│ 1 10\.50\.0\.0\/24 +│ \d+ +│ shop\/prod\/db +│ 10\.50\.0\.13/);
    expect(text.stdout).toMatch(/allocate +│ 1 10\.50\.0\.0\/24 +│ \d+ +│ shop\/prod\/web +│ 10\.50\.0\.10-10\.50\.0\.12 \(3\)/);
  });

  it("validates its filters like the core, naming the field", async () => {
    for (const [args, field] of [
      [["--since", "yesterday"], "since"],
      [["--address", "10.50.0.256"], "address"],
      [["--allocation", "-1"], "allocationId"],
      [["--limit", "5000"], "limit"],
      [["--subnet", "10.50.0.1/24"], "subnet"],
    ] as const) {
      const result = await ipam(["history", ...args, "--json"]);
      expect(result.code).toBe(1);
      expect(jsonError(result).issues?.[0]?.field).toBe(field);
    }
  });
});

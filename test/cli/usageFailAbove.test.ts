import { beforeAll, describe, expect, it } from "vitest";
import { jsonOf, runCli } from "../helpers/cliRunner.js";
import { useTestIpam } from "../helpers/openTestIpam.js";

const context = useTestIpam("failabove");
const ipam = (args: string[]) => runCli(args, { IPAM_DATABASE_URL: context.db.url });
const ids: Record<string, string> = {};

beforeAll(async () => {
  const core = context.ipam;
  // Pools of 10 addresses: 9 used is 90%, 5 used 50%; a children-only parent and an empty IPv6 subnet are never above.
  const full = await core.createSubnet({ cidr: "10.70.0.0/24", namespace: "prod", allocationPools: [{ start: "10.70.0.10", end: "10.70.0.19" }] });
  const half = await core.createSubnet({ cidr: "10.71.0.0/24", namespace: "staging", allocationPools: [{ start: "10.71.0.10", end: "10.71.0.19" }] });
  const parent = await core.createSubnet({ cidr: "10.72.0.0/16", namespace: "prod", childrenOnly: true, defaultPrefixLength: 24 });
  await core.createSubnet({ cidr: "2001:db8:70::/64", namespace: "prod" });
  await core.allocate({ subnetId: full.id, owner: "shop/prod/web", count: 9 });
  await core.allocate({ subnetId: half.id, owner: "shop/staging/web", count: 5 });
  await core.createSubnet({ parentId: parent.id });
  Object.assign(ids, { full: full.id, half: half.id });
});

describe("ipam usage --fail-above", () => {
  it("exits 0 when no subnet is above the threshold, including one exactly at it", async () => {
    for (const threshold of ["90", "95", "100"]) {
      const result = await ipam(["usage", "--fail-above", threshold]);
      expect(result.code, threshold).toBe(0);
      expect(result.stderr).not.toMatch(/capacity/);
    }
  });

  it("exits 3 naming every subnet above it, and only those", async () => {
    const one = await ipam(["usage", "--fail-above", "89.99"]);
    expect(one.code).toBe(3);
    expect(one.stderr).toContain(`capacity: 1 subnet(s) above 89.99% pool use: ${ids.full} 10.70.0.0/24 (namespace prod) 90.00%`);
    expect(one.stdout).toContain("10.70.0.0/24"); // the usage report is still printed
    const two = await ipam(["usage", "--fail-above", "49"]);
    expect(two.code).toBe(3);
    expect(two.stderr).toContain(`2 subnet(s) above 49% pool use: ${ids.full} 10.70.0.0/24 (namespace prod) 90.00%, ${ids.half} 10.71.0.0/24 (namespace staging) 50.00%`);
    expect(two.stderr).not.toContain("10.72.");
  });

  it("--namespace limits the gate to one namespace; --json carries the subnets above", async () => {
    expect((await ipam(["usage", "--namespace", "staging", "--fail-above", "60"])).code).toBe(0);
    const result = await ipam(["usage", "--namespace", "staging", "--fail-above", "40", "--json"]);
    expect(result.code).toBe(3);
    expect(jsonOf(result).failAbove).toEqual({ percent: 40, subnets: [{ subnetId: ids.half, namespace: "staging", cidr: "10.71.0.0/24", used: "50.00%" }] });
  });

  it("refuses a threshold that is not a percentage, with the usage exit code", async () => {
    for (const bad of ["101", "-1", "ninety", "90.123"]) {
      const result = await ipam(["usage", "--fail-above", bad]);
      expect(result.code, bad).toBe(2);
      expect(result.stderr).toMatch(/must be a percentage from 0 to 100/);
    }
  });
});

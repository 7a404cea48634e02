import { beforeAll, describe, expect, it } from "vitest";
import { jsonOf, runCli } from "../helpers/cliRunner.js";
import { useTestIpam } from "../helpers/openTestIpam.js";

// Issue 13 item 12: the usage tree stopped at depth 64 and said `truncated: false`. The deepest
// possible tree is a chain from an IPv6 /16 down to a /128: 112 levels below its root.
const source = useTestIpam("deeptree");
const LEVELS = 112;
let rootId: string;

beforeAll(async () => {
  const root = await source.ipam.createSubnet({ cidr: "2001::/16", namespace: "deep" });
  rootId = root.id;
  let parentId = root.id;
  for (let prefixLength = 17; prefixLength <= 16 + LEVELS; prefixLength += 1) {
    parentId = (await source.ipam.createSubnet({ parentId, prefixLength })).id;
  }
}, 120_000);

describe("a tree deeper than 64 levels is shown whole, or says it is not", () => {
  it("usageTreeReport shows every one of the 113 levels and says the tree is whole", async () => {
    const tree = await source.ipam.usageTreeReport(rootId);
    expect(tree.reports.map((report) => report.depth)).toEqual(Array.from({ length: LEVELS + 1 }, (_, depth) => depth));
    expect(tree.reports.at(-1)!.subnet.cidr).toBe("2001::/128");
    expect(tree).toMatchObject({ truncated: false, truncatedReason: null });
  });

  it("subnetTree does too by default; a maxDepth or limit that leaves subnets out says so and why", async () => {
    const whole = await source.ipam.subnetTree(rootId);
    expect(whole.entries).toHaveLength(LEVELS + 1);
    expect(whole).toMatchObject({ truncated: false, truncatedReason: null });

    const shallow = await source.ipam.subnetTree(rootId, { maxDepth: 70 });
    expect(shallow.entries.map((entry) => entry.depth).at(-1)).toBe(70);
    expect(shallow).toMatchObject({ truncated: true, truncatedReason: expect.stringContaining("deeper than 70 levels") });

    const exact = await source.ipam.subnetTree(rootId, { maxDepth: LEVELS });
    expect(exact).toMatchObject({ truncated: false, truncatedReason: null });

    const short = await source.ipam.subnetTree(rootId, { limit: 5 });
    expect(short.entries).toHaveLength(5);
    expect(short).toMatchObject({ truncated: true, truncatedReason: expect.stringContaining("more than 5 subnets") });
  });

  it("`ipam usage ROOT` prints all of it (JSON and table)", async () => {
    const env = { IPAM_DATABASE_URL: source.db.url };
    const json = jsonOf(await runCli(["usage", rootId, "--json"], env));
    expect(json.subnets).toHaveLength(LEVELS + 1);
    expect(json).toMatchObject({ truncated: false, truncatedReason: null });
    const table = await runCli(["usage", rootId], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain("└ 2001::/128");
    expect(table.stdout).not.toContain("not the whole tree");
  });
});

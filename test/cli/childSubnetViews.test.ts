import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Resvg } from "@resvg/resvg-js";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Subnet } from "../../provider/core/types.js";
import { MAP_COLOURS } from "../../provider/cli/subnetMapSvg.js";
import { jsonOf, runCli } from "../helpers/cliRunner.js";
import { useTestIpam } from "../helpers/openTestIpam.js";

const context = useTestIpam("clichildren");
const ipam = (args: string[]) => runCli(args, { IPAM_DATABASE_URL: context.db.url });
let dir: string;

// 10.80.0.0/22 (gateway .1, 3 addresses of its own) with children of mixed sizes; the /24 has a
// grandchild with a child of its own. An IPv6 /48 that hands out children only: three /64s and a /56.
const tree: Record<"parent" | "a" | "b" | "c" | "grandchild" | "greatGrandchild" | "v6" | "v6b", Subnet> = {} as never;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ipam-cli-children-"));
  const core = context.ipam;
  tree.parent = await core.createSubnet({ cidr: "10.80.0.0/22", namespace: "tree", gateway: "10.80.0.1" });
  tree.a = await core.createSubnet({ parentId: tree.parent.id, cidr: "10.80.1.0/24" });
  tree.b = await core.createSubnet({ parentId: tree.parent.id, cidr: "10.80.2.0/26" });
  tree.c = await core.createSubnet({ parentId: tree.parent.id, prefixLength: 28, strategy: "best-fit" });
  tree.grandchild = await core.createSubnet({ parentId: tree.a.id, cidr: "10.80.1.128/26" });
  tree.greatGrandchild = await core.createSubnet({ parentId: tree.grandchild.id, cidr: "10.80.1.160/28" });
  await core.allocate({ subnetId: tree.parent.id, owner: "parent-app", count: 3 });
  await core.allocate({ subnetId: tree.a.id, owner: "team-a", count: 5 });
  await core.allocate({ subnetId: tree.c.id, owner: "team-c", count: 2 });
  tree.v6 = await core.createSubnet({ cidr: "2001:db8:80::/48", namespace: "tree6", childrenOnly: true, defaultPrefixLength: 64 });
  for (let i = 0; i < 3; i += 1) await core.createSubnet({ parentId: tree.v6.id });
  tree.v6b = await core.createSubnet({ parentId: tree.v6.id, cidr: "2001:db8:80:100::/56" });
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("ipam usage SUBNET with child subnets", () => {
  it("lists the subnet and every descendant depth first, each with its own figures, in JSON", async () => {
    expect(tree.c.cidr).toBe("10.80.0.16/28"); // best fit: the smallest free block, beside the gateway
    const report = jsonOf(await ipam(["usage", "10.80.0.0/22", "--namespace", "tree", "--json"]));
    const order = [tree.parent, tree.c, tree.a, tree.grandchild, tree.greatGrandchild, tree.b];
    expect(report.subnets.map((s: { subnet: Subnet; depth: number }) => [s.subnet.cidr, s.depth])).toEqual(
      order.map((subnet, i) => [subnet.cidr, [0, 1, 1, 2, 3, 1][i]]),
    );
    expect(report.truncated).toBe(false);
    const usage = (subnet: Subnet) => report.subnets.find((s: { subnet: Subnet }) => s.subnet.id === subnet.id).usage;
    // 1024 addresses: pool 1021 (no network, broadcast, gateway); children 256 + 64 + 16; 3 own.
    expect(usage(tree.parent)).toMatchObject({ total: "1024", poolSize: "1021", allocated: "3", free: String(1021 - 336 - 3), childPrefixes: 3, childAddresses: "336", childSpaceFree: String(1024 - 1 - 336 - 3) });
    expect(usage(tree.a)).toMatchObject({ poolSize: "254", allocated: "5", free: String(254 - 64 - 5), childPrefixes: 1, childAddresses: "64" });
    expect(usage(tree.grandchild)).toMatchObject({ poolSize: "62", allocated: "0", free: "46", childPrefixes: 1, childAddresses: "16" });
    expect(usage(tree.greatGrandchild)).toMatchObject({ poolSize: "14", allocated: "0", free: "14", childPrefixes: 0 });
    expect(usage(tree.b)).toMatchObject({ poolSize: "62", allocated: "0", free: "62", childPrefixes: 0 });
    expect(usage(tree.c)).toMatchObject({ poolSize: "14", allocated: "2", free: "12", childPrefixes: 0 });
    for (const subnet of order) expect(usage(subnet)).toEqual(await context.ipam.usage(subnet.id));
    const owners = (subnet: Subnet) => report.subnets.find((s: { subnet: Subnet }) => s.subnet.id === subnet.id).owners;
    expect(owners(tree.parent)).toEqual([{ owner: "parent-app", allocations: 1, addresses: "3" }]);
    expect(owners(tree.a)).toEqual([{ owner: "team-a", allocations: 1, addresses: "5" }]);
    expect(owners(tree.b)).toEqual([]);
    // The children's blocks are inside the parent's pool, where they count as in use: never twice.
    expect(report.namespaces).toEqual([{ namespace: "tree", ipVersion: 4, subnets: 6, poolSize: "1021", inUse: String(336 + 3), allocated: "10", outsidePool: "0" }]);

    const middle = jsonOf(await ipam(["usage", tree.a.id, "--json"]));
    expect(middle.subnets.map((s: { subnet: Subnet; depth: number }) => [s.subnet.cidr, s.depth])).toEqual([["10.80.1.0/24", 0], ["10.80.1.128/26", 1], ["10.80.1.160/28", 2]]);
  });

  it("draws the tree indented with each subnet's use and children", async () => {
    const text = await ipam(["usage", tree.parent.id]);
    expect(text.code).toBe(0);
    const row = (label: string, figures: string) => new RegExp(`│ ${label.replace(/[./]/g, "\\$&")} +│ [█░]{20} +[\\d.]+% │ +${figures.split(" ").map((figure) => figure.replaceAll("_", " ")).join(" +│ +")} │`);
    // IN USE / POOL (spaces as _) │ FREE │ ALLOCATED │ OUTSIDE POOLS │ OWNERS │ CHILDREN │ CHILD ADDRESSES │ ROOM FOR CHILDREN
    expect(text.stdout).toMatch(row("10.80.0.0/22", "339_/_1021 682 3 0 1 3 336 684"));
    expect(text.stdout).toMatch(row("└ 10.80.0.16/28", "2_/_14 12 2 0 1 0 0 14"));
    expect(text.stdout).toMatch(row("└ 10.80.1.0/24", "69_/_254 185 5 0 1 1 64 187"));
    expect(text.stdout).toMatch(row("  └ 10.80.1.128/26", "16_/_62 46 0 0 0 1 16 48"));
    expect(text.stdout).toMatch(row("    └ 10.80.1.160/28", "0_/_14 14 0 0 0 0 0 16"));
    expect(text.stdout).toMatch(row("└ 10.80.2.0/26", "0_/_62 62 0 0 0 0 0 64"));

    const lines = text.stdout.split("\n");
    const at = (cidr: string) => lines.findIndex((line) => line.includes(` ${cidr} `));
    expect([at("10.80.0.0/22"), at("10.80.0.16/28"), at("10.80.1.0/24"), at("10.80.1.128/26"), at("10.80.1.160/28"), at("10.80.2.0/26")]).toEqual(
      [0, 1, 2, 3, 4, 5].map((i) => at("10.80.0.0/22") + i),
    );
    expect(text.stdout).toMatch(/10\.80\.1\.0\/24 +│ team-a +│ +1 │ +5 │/);

    // A subnet without children keeps the table it always had.
    const leaf = await ipam(["usage", tree.b.id]);
    expect(leaf.stdout).not.toContain("CHILDREN");
    expect(leaf.stdout).toMatch(/│ 10\.80\.2\.0\/26 +│ ░{20} +0\.00% │ +0 \/ 62 │ +62 │ +0 │ +0 │ +0 │\n/);
  });

  it("shows an IPv6 /48 handing out /64 children only", async () => {
    const report = jsonOf(await ipam(["usage", "2001:db8:80::/48", "--json"]));
    expect(report.subnets.map((s: { subnet: Subnet; depth: number }) => [s.subnet.cidr, s.depth])).toEqual([
      ["2001:db8:80::/48", 0], ["2001:db8:80::/64", 1], ["2001:db8:80:1::/64", 1], ["2001:db8:80:2::/64", 1], ["2001:db8:80:100::/56", 1],
    ]);
    const childAddresses = 3n * 2n ** 64n + 2n ** 72n;
    expect(report.subnets[0].usage).toMatchObject({ childPrefixes: 4, childAddresses: String(childAddresses), childSpaceFree: String(2n ** 80n - childAddresses), free: "0" });
    // A children-only parent's pool is its children's: 3 × (2^64 - 1) + (2^72 - 1) usable addresses.
    expect(report.namespaces).toEqual([{ namespace: "tree6", ipVersion: 6, subnets: 5, poolSize: String(childAddresses - 4n), inUse: "0", allocated: "0", outsidePool: "0" }]);
    const text = await ipam(["usage", tree.v6.id]);
    expect(text.stdout).toMatch(/│ 2001:db8:80::\/48 +│ children only +│ +- │ +- │ +0 │ +0 │ +0 │ +4 │ +4777706715090773868544 │ +1204148112899538400837632 │/);
    expect(text.stdout).toMatch(/│ └ 2001:db8:80:100::\/56 +│ ░{20} +0\.00% │ +0 \/ 4722366482869645213695 │/);
  });
});

/** Every cell of a rendered map: its first address and the child subnet painted on it, if any. */
function mapCells(svg: string): { first: string; child: string | undefined }[] {
  return [...svg.matchAll(/<rect [^>]*data-first="([^"]+)"(?: data-child="(\d+)")?/g)].map((m) => ({ first: m[1]!, child: m[2] }));
}

function pixelAt(svg: string, attribute: string, value: string, dx: number): [number, number, number] {
  const match = new RegExp(`<rect x="(\\d+)" y="(\\d+)"[^>]*${attribute}="${value.replace(/[.:]/g, "\\$&")}"`).exec(svg);
  if (match === null) throw new Error(`no element with ${attribute}="${value}"`);
  const png = PNG.sync.read(new Resvg(svg, { font: { loadSystemFonts: false } }).render().asPng());
  const offset = ((Number(match[2]) + dx) * png.width + Number(match[1]) + dx) * 4;
  return [png.data[offset]!, png.data[offset + 1]!, png.data[offset + 2]!];
}

const hex = (colour: string) => [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16));
const ipv4 = (n: number) => `10.80.${n >> 8}.${n & 255}`;

describe("ipam map with child subnets", () => {
  it("paints exactly the cells the children cover, from their blocks, in the SVG and the JSON", async () => {
    const out = join(dir, "parent.svg");
    const result = jsonOf(await ipam(["map", tree.parent.id, "--out", out, "--json"]));
    expect(result.grid).toEqual({ cellBits: 0, cellCount: 1024 });
    expect(result.childBlocks).toEqual([
      { firstCell: 16, lastCell: 31, children: 1, addresses: "16", subnetId: tree.c.id, cidr: "10.80.0.16/28" },
      { firstCell: 256, lastCell: 511, children: 1, addresses: "256", subnetId: tree.a.id, cidr: "10.80.1.0/24" },
      { firstCell: 512, lastCell: 575, children: 1, addresses: "64", subnetId: tree.b.id, cidr: "10.80.2.0/26" },
    ]);
    const svg = await readFile(out, "utf8");
    const cells = mapCells(svg);
    expect(cells).toHaveLength(1024);
    const expected = (cell: number) => (cell >= 16 && cell <= 31 ? tree.c.id : cell >= 256 && cell <= 511 ? tree.a.id : cell >= 512 && cell <= 575 ? tree.b.id : undefined);
    expect(cells).toEqual(cells.map((_, cell) => ({ first: ipv4(cell), child: expected(cell) })));
    const child = hex(MAP_COLOURS.childSubnet);
    expect(pixelAt(svg, "data-first", "10.80.1.0", 8)).toEqual(child);
    expect(pixelAt(svg, "data-first", "10.80.2.63", 8)).toEqual(child);
    expect(pixelAt(svg, "data-first", "10.80.0.31", 8)).toEqual(child);
    expect(pixelAt(svg, "data-legend", "child-subnet", 7)).toEqual(child);
    expect(pixelAt(svg, "data-first", "10.80.2.64", 8)).toEqual(hex(MAP_COLOURS.free));
    expect(pixelAt(svg, "data-first", "10.80.0.2", 8)).toEqual(pixelAt(svg, "data-owner", "parent-app", 7));
    expect(svg).toContain("3 child subnet(s), 336 address(es)");
    expect(svg).toContain("<title>10.80.1.0: child subnet");
  });

  it("draws a child with its own child (a grandchild of the top)", async () => {
    const out = join(dir, "child.svg");
    const result = jsonOf(await ipam(["map", "10.80.1.0/24", "--namespace", "tree", "--out", out, "--json"]));
    expect(result.childBlocks).toEqual([{ firstCell: 128, lastCell: 191, children: 1, addresses: "64", subnetId: tree.grandchild.id, cidr: "10.80.1.128/26" }]);
    const cells = mapCells(await readFile(out, "utf8"));
    expect(cells.filter((cell) => cell.child !== undefined).map((cell) => cell.first)).toEqual(Array.from({ length: 64 }, (_, i) => `10.80.1.${128 + i}`));
    expect(new Set(cells.map((cell) => cell.child))).toEqual(new Set([undefined, tree.grandchild.id]));
  });

  it("aggregates /64 children of an IPv6 /48 into the cells holding them", async () => {
    const out = join(dir, "v6.svg");
    const result = jsonOf(await ipam(["map", tree.v6.id, "--out", out, "--json"]));
    // 2^80 addresses in 1,024 cells of 2^70: the three /64s share cell 0, the /56 covers cells 4-7.
    expect(result.grid).toEqual({ cellBits: 70, cellCount: 1024 });
    expect(result.childBlocks).toEqual([
      { firstCell: 0, lastCell: 0, children: 3, addresses: String(3n * 2n ** 64n), subnetId: expect.any(String), cidr: "2001:db8:80::/64" },
      { firstCell: 4, lastCell: 7, children: 1, addresses: String(2n ** 72n), subnetId: tree.v6b.id, cidr: "2001:db8:80:100::/56" },
    ]);
    const svg = await readFile(out, "utf8");
    const painted = mapCells(svg).flatMap((cell, index) => (cell.child === undefined ? [] : [index]));
    expect(painted).toEqual([0, 4, 5, 6, 7]);
    expect(pixelAt(svg, "data-first", "2001:db8:80:100::", 8)).toEqual(hex(MAP_COLOURS.childSubnet));
    expect(svg).toContain("3 child subnets (55340232221128654848 addresses), the first");
    expect(svg).toContain("<title>2001:db8:80:80::-2001:db8:80:bf:ffff:ffff:ffff:ffff: free for child subnets (children only)</title>");
  });
});

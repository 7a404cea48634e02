import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Resvg } from "@resvg/resvg-js";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAP_COLOURS } from "../../provider/cli/subnetMapSvg.js";
import { jsonError, jsonOf, runCli } from "../helpers/cliRunner.js";
import { useTestIpam } from "../helpers/openTestIpam.js";

const context = useTestIpam("climap");
const ipam = (args: string[]) => runCli(args, { IPAM_DATABASE_URL: context.db.url });
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ipam-cli-map-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

type Rgb = [number, number, number];
const hex = (colour: string): Rgb => [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16)) as Rgb;

/** Rasterize the SVG as a browser would, then read pixels back: the picture, not its source, is checked. */
function rasterize(svg: string): { pixel: (x: number, y: number) => Rgb; width: number } {
  const png = PNG.sync.read(new Resvg(svg, { font: { loadSystemFonts: false } }).render().asPng());
  return {
    width: png.width,
    pixel: (x, y) => {
      const offset = (Math.round(y) * png.width + Math.round(x)) * 4;
      return [png.data[offset]!, png.data[offset + 1]!, png.data[offset + 2]!];
    },
  };
}

/** Top-left corner of an element found by one of its attributes (a cell's first address, a legend owner). */
function corner(svg: string, attribute: string, value: string): { x: number; y: number } {
  const entities: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };
  const escaped = value.replace(/[&<>"']/g, (c) => entities[c]!).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const match = new RegExp(`<rect x="(\\d+)" y="(\\d+)"[^>]*${attribute}="${escaped}"`).exec(svg);
  if (match === null) throw new Error(`no element with ${attribute}="${value}"`);
  return { x: Number(match[1]), y: Number(match[2]) };
}


/** The colour at the centre of the cell whose first address is `address`. */
const cellCentre = (svg: string, image: ReturnType<typeof rasterize>) => (address: string) => {
  const { x, y } = corner(svg, "data-first", address);
  return image.pixel(x + 8, y + 8);
};
describe("ipam map", () => {
  it("draws pools, gateway, reserved and allocations coloured by owner, as pixels", async () => {
    const owner = `team<a>&'b" <script>`;
    const subnet = await context.ipam.createSubnet({
      cidr: "10.70.0.0/26", gateway: "10.70.0.1", allocationPools: [{ start: "10.70.0.10", end: "10.70.0.49" }], reserved: ["10.70.0.5", "10.70.0.56/30"],
    });
    await context.ipam.allocate({ subnetId: subnet.id, owner, count: 3 });
    await context.ipam.allocate({ subnetId: subnet.id, owner: "other", address: "10.70.0.30" });
    await context.ipam.allocate({ subnetId: subnet.id, owner: "outsider", address: "10.70.0.52" });
    const out = join(dir, "map.svg");
    const result = await ipam(["map", "10.70.0.0/26", "--out", out, "--json"]);
    expect(result.code).toBe(0);
    expect(jsonOf(result)).toEqual({ subnetId: subnet.id, file: out, grid: { cellBits: 0, cellCount: 64 }, childBlocks: [] });
    const svg = await readFile(out, "utf8");
    expect(svg).not.toContain("<script>");
    expect(svg).toContain("team&lt;a&gt;&amp;&apos;b&quot; &lt;script&gt;");

    const image = rasterize(svg);
    const centre = cellCentre(svg, image);
    const swatch = (name: string) => {
      const { x, y } = corner(svg, "data-owner", name);
      return image.pixel(x + 7, y + 7);
    };
    const teamColour = swatch(owner);
    const otherColour = swatch("other");
    expect(teamColour).not.toEqual(otherColour);
    for (const address of ["10.70.0.10", "10.70.0.11", "10.70.0.12"]) expect(centre(address)).toEqual(teamColour);
    expect(centre("10.70.0.30")).toEqual(otherColour);
    expect(centre("10.70.0.52")).toEqual(swatch("outsider"));
    expect(centre("10.70.0.1")).toEqual(hex(MAP_COLOURS.gateway));
    expect(centre("10.70.0.5")).toEqual(hex(MAP_COLOURS.reserved));
    expect(centre("10.70.0.57")).toEqual(hex(MAP_COLOURS.reserved));
    expect(centre("10.70.0.13")).toEqual(hex(MAP_COLOURS.free));
    expect(centre("10.70.0.49")).toEqual(hex(MAP_COLOURS.free));
    expect(centre("10.70.0.50")).toEqual(hex(MAP_COLOURS.outsidePools));
    expect(centre("10.70.0.0")).toEqual(hex(MAP_COLOURS.unusable));
    expect(centre("10.70.0.63")).toEqual(hex(MAP_COLOURS.unusable));
    // Allocated outside the pools: a red outline around the owner's colour.
    const outsider = corner(svg, "data-first", "10.70.0.52");
    expect(image.pixel(outsider.x, outsider.y + 8)).toEqual(hex(MAP_COLOURS.outsidePoolFlag));
    const inside = corner(svg, "data-first", "10.70.0.30");
    expect(image.pixel(inside.x, inside.y + 8)).toEqual(otherColour);
    // 64 addresses, 32 per row: 10.70.0.32 starts the second row.
    expect(corner(svg, "data-first", "10.70.0.32")).toEqual({ x: corner(svg, "data-first", "10.70.0.0").x, y: corner(svg, "data-first", "10.70.0.0").y + 18 });
  });

  it("aggregates a large subnet into blocks coloured by their main owner", async () => {
    const subnet = await context.ipam.createSubnet({ cidr: "2001:db8:70::/64", gateway: "2001:db8:70::1" });
    await context.ipam.allocate({ subnetId: subnet.id, owner: "v6-app", address: "2001:db8:70:0:8000::5" });
    const out = join(dir, "v6.svg");
    expect((await ipam(["map", subnet.id, "--out", out])).stdout).toContain(`wrote ${out}`);
    const svg = await readFile(out, "utf8");
    expect(svg.match(/data-first=/g)).toHaveLength(1024);
    expect(svg).toContain("each cell is 2^54 addresses");
    const image = rasterize(svg);
    const block = corner(svg, "data-first", "2001:db8:70:0:8000::");
    expect(image.pixel(block.x + 2, block.y + 2)).toEqual(image.pixel(corner(svg, "data-owner", "v6-app").x + 7, corner(svg, "data-owner", "v6-app").y + 7));
    const first = corner(svg, "data-first", "2001:db8:70::");
    expect(image.pixel(first.x + 2, first.y + 2)).toEqual(hex(MAP_COLOURS.free));
    expect(image.pixel(first.x + 8, first.y + 8)).toEqual(hex(MAP_COLOURS.gateway));
    expect(image.pixel(corner(svg, "data-first", "2001:db8:70:0:400::").x + 8, first.y + 8)).toEqual(hex(MAP_COLOURS.free));
  });

  it("marks addresses held after release (hold-down) in their own colour, with a legend entry", async () => {
    const subnet = await context.ipam.createSubnet({ cidr: "10.73.0.0/28", releaseHoldSeconds: 300 });
    const taken = [];
    for (let i = 0; i < 3; i += 1) taken.push((await context.ipam.allocate({ subnetId: subnet.id, owner: "hold-app" })).allocation);
    await context.ipam.release(taken[1]!.id);
    const out = join(dir, "held.svg");
    expect((await ipam(["map", subnet.id, "--out", out])).code).toBe(0);
    const svg = await readFile(out, "utf8");
    const image = rasterize(svg);
    const centre = cellCentre(svg, image);
    expect(centre("10.73.0.2")).toEqual(hex(MAP_COLOURS.heldDown));
    expect(svg).toMatch(/data-first="10\.73\.0\.2" data-hold="held"><title>10\.73\.0\.2: held after release, \d+ s left<\/title>/);
    const legend = corner(svg, "data-legend", "held");
    expect(image.pixel(legend.x + 7, legend.y + 7)).toEqual(hex(MAP_COLOURS.heldDown));
    expect(svg).toContain("held after release (hold-down) — 1 address(es)");
    // Neighbours keep their meaning: allocated in the owner's colour, the rest free.
    expect(centre("10.73.0.1")).toEqual(centre("10.73.0.3"));
    expect(centre("10.73.0.1")).not.toEqual(hex(MAP_COLOURS.heldDown));
    expect(centre("10.73.0.4")).toEqual(hex(MAP_COLOURS.free));
    // A map without holds has no such entry.
    const plain = await context.ipam.createSubnet({ cidr: "10.74.0.0/28" });
    expect((await ipam(["map", plain.id, "--out", join(dir, "plain.svg")])).code).toBe(0);
    expect(await readFile(join(dir, "plain.svg"), "utf8")).not.toContain('data-legend="held"');
  });

  it("marks a child prefix held after its child's delete in the hold-down colour, with the child that released it", async () => {
    const parent = await context.ipam.createSubnet({ cidr: "10.75.0.0/28", releaseHoldSeconds: 300 });
    const child = await context.ipam.createSubnet({ parentId: parent.id, cidr: "10.75.0.4/30" });
    await context.ipam.allocate({ subnetId: parent.id, owner: "block-app" });
    await context.ipam.deleteSubnet(child.id);
    const out = join(dir, "held-block.svg");
    expect((await ipam(["map", parent.id, "--out", out])).code).toBe(0);
    const svg = await readFile(out, "utf8");
    const image = rasterize(svg);
    const centre = cellCentre(svg, image);
    for (const address of ["10.75.0.4", "10.75.0.5", "10.75.0.6", "10.75.0.7"]) expect(centre(address)).toEqual(hex(MAP_COLOURS.heldDown));
    expect(svg).toMatch(new RegExp(`data-first="10\\.75\\.0\\.5" data-hold="held"><title>10\\.75\\.0\\.5: in child prefix 10\\.75\\.0\\.4/30, held since child subnet ${child.id} was deleted, \\d+ s left</title>`));
    expect(svg).toContain("held after release (hold-down) — 1 child prefix(es)");
    // Outside the block: the parent's allocation in its owner's colour, the rest free.
    expect(centre("10.75.0.1")).not.toEqual(hex(MAP_COLOURS.heldDown));
    expect(centre("10.75.0.8")).toEqual(hex(MAP_COLOURS.free));
    expect(centre("10.75.0.3")).toEqual(hex(MAP_COLOURS.free));
  });

  it("fails with the core's errors and needs --out", async () => {
    expect((await ipam(["map", "1"])).code).toBe(2);
    const missing = await ipam(["map", "424242", "--out", join(dir, "x.svg"), "--json"]);
    expect(missing.code).toBe(1);
    expect(jsonError(missing)).toMatchObject({ code: "NOT_FOUND" });
  });
});

import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allocationWeight } from "../../bench/checkpointWeight.js";

/** A checkpoint as harness/engine/checkpoint.ts writes it: minified JSON, as the DIY backend does. */
function checkpointText(resources: Record<string, unknown>[]): string {
  return JSON.stringify({ version: 3, checkpoint: { stack: "bench", latest: { manifest: { time: "t", version: "v" }, resources } } });
}

const stackResource = { urn: "urn:pulumi:bench::p::pulumi:pulumi:Stack::p-bench", custom: false, type: "pulumi:pulumi:Stack", inputs: {}, outputs: {} };
const subnet = { urn: "urn:pulumi:bench::p::ipam:index:Subnet::net0", custom: true, id: "1", type: "ipam:index:Subnet", inputs: { __provider: "exports.handler = 1;" }, outputs: { __provider: "exports.handler = 1;", cidr: "10.0.0.0/24" } };
const allocation = (name: string, tags: Record<string, string>) => ({
  urn: `urn:pulumi:bench::p::ipam:index:IpAllocation::${name}`,
  custom: true,
  id: name,
  type: "ipam:index:IpAllocation",
  inputs: { __provider: 'exports.handler = "a\\nb";', subnetId: "1" },
  outputs: { __provider: 'exports.handler = "a\\nb";', addresses: ["10.0.0.1", "10.0.0.2"], tags, gateway: null },
});

describe("allocationWeight (bench scenario 13's state measure)", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ipam-weight-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reports what the allocations add to the file, byte for byte, and how many provider texts each stores", async () => {
    const withAllocations = join(dir, "with.json");
    const without = join(dir, "without.json");
    const a1 = allocation("a1", {});
    const a2 = allocation("a12", { team: "nét" }); // a non-ASCII tag: bytes, not characters
    await writeFile(withAllocations, checkpointText([stackResource, a1, subnet, a2]));
    await writeFile(without, checkpointText([stackResource, subnet]));
    const added = (await stat(withAllocations)).size - (await stat(without)).size;

    const weight = await allocationWeight(withAllocations);

    expect(weight.resources).toBe(2);
    expect(weight.bytes * 2).toBe(added);
    expect(weight.providerCopies).toBe(2);
  });

  it("refuses a checkpoint without allocations instead of reporting zero", async () => {
    const file = join(dir, "none.json");
    await writeFile(file, checkpointText([stackResource, subnet]));
    await expect(allocationWeight(file)).rejects.toThrow(/no allocation resources/);
  });
});

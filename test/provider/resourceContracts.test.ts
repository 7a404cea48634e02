import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ALLOCATION_CONTRACT } from "../../provider/core/allocationContract.js";
import type { ResourceContract } from "../../provider/core/resourceContract.js";
import { SUBNET_CONTRACT } from "../../provider/core/subnetContract.js";
import * as allocation from "../../provider/dynamic/allocationProvider.js";
import * as subnet from "../../provider/dynamic/subnetProvider.js";
import type { Props } from "../../provider/dynamic/wire.js";
import { RESOURCE_DOC, withResourceTables } from "../../scripts/resourceDocs.js";

// Each resource's contract (provider/core/*Contract.ts) is the one source of its inputs: the doc's
// tables are generated from it, the SDK's Args comments are its doc lines, and Diff does what it says.
const root = resolve(import.meta.dirname, "..", "..");
const read = (path: string) => readFileSync(resolve(root, path), "utf8");

/** `name -> comment` of each field of `interface <name>` in an SDK file, whitespace folded. */
function argsComments(file: string, name: string): Map<string, string> {
  const text = read(file);
  const body = text.slice(text.indexOf(`export interface ${name} {`), text.indexOf("\n}\n", text.indexOf(`export interface ${name} {`)));
  const fields = new Map<string, string>();
  for (const [, comment, field] of body.matchAll(/\/\*\*([\s\S]*?)\*\/\s*(\w+)\??:/g)) {
    fields.set(field!, comment!.replace(/^\s*\*/gm, "").replace(/\s+/g, " ").trim());
  }
  return fields;
}

describe("resource contracts", () => {
  it(`${RESOURCE_DOC}'s generated tables are the contracts' (run \`npm run docs\` after changing a contract)`, () => {
    const doc = read(RESOURCE_DOC);
    expect(doc).toBe(withResourceTables(doc));
  });

  it("a table edited by hand, or a contract changed without the doc, is caught", () => {
    const doc = read(RESOURCE_DOC);
    const edited = doc.replace("| `count` | `number` | `1` |", "| `count` | `number` | `2` |");
    expect(edited).not.toBe(doc);
    expect(withResourceTables(edited)).not.toBe(edited);
    expect(() => withResourceTables("no markers")).toThrow(/markers/);
  });

  it.each([
    ["sdk/Subnet.ts", "SubnetArgs", SUBNET_CONTRACT],
    ["sdk/IpAllocation.ts", "IpAllocationArgs", ALLOCATION_CONTRACT],
  ] as const)("%s: every %s field's comment is the contract's doc line", (file, name, contract: ResourceContract) => {
    const comments = argsComments(file, name);
    expect([...comments.keys()].sort()).toEqual(Object.keys(contract.inputs).sort());
    for (const [input, spec] of Object.entries(contract.inputs)) expect(comments.get(input), input).toBe(spec.doc);
  });
});

// State as this release writes it (an identity and a provider naming the package), so Diff asks for nothing by itself.
const current = { __database: "db-identity", __provider: 'exports.handler = require("pulumi-ipam/dynamic")' };

/** A value for each input other than the stored resource's: a new input makes this test name it. */
const SUBNET_CHANGES: Record<keyof typeof SUBNET_CONTRACT.inputs, unknown> = {
  cidr: "10.0.1.0/24",
  namespace: "other",
  parentId: "7",
  prefixLength: 25,
  strategy: "best-fit",
  allocationPools: [{ start: "10.0.0.10", end: "10.0.0.20" }],
  gateway: "10.0.0.1",
  reserved: ["10.0.0.5"],
  description: "edge",
  tags: { team: "net" },
  childrenOnly: true,
  minPrefixLength: 25,
  maxPrefixLength: 28,
  defaultPrefixLength: 26,
  releaseHoldSeconds: 300,
};
const storedSubnet = {
  ...current,
  __inputs: { cidr: "10.0.0.0/24" },
  __poolsExplicit: false,
  subnetId: "1",
  cidr: "10.0.0.0/24",
  namespace: "default",
  parentId: null,
  prefixLength: 24,
  gateway: null,
  allocationPools: [{ start: "10.0.0.1", end: "10.0.0.254" }],
  reserved: [],
  description: "",
  tags: {},
  childrenOnly: false,
  minPrefixLength: null,
  maxPrefixLength: null,
  defaultPrefixLength: null,
};

const ALLOCATION_CHANGES: Record<keyof typeof ALLOCATION_CONTRACT.inputs, unknown> = {
  subnetId: "2",
  address: "10.0.0.9",
  count: 2,
  strategy: "random",
  description: "web",
  tags: { team: "web" },
  adopt: true,
};
const storedAllocation = {
  ...current,
  __inputs: { subnetId: "1" },
  allocationId: "5",
  subnetId: "1",
  address: "10.0.0.1",
  addresses: ["10.0.0.1"],
  count: 1,
  strategy: "sequential",
  description: "",
  tags: {},
};

describe.each([
  // The Subnet's decision without the read a delete-first replacement adds (deleteFirstGuard.ts; test/engine/targets.test.ts).
  ["Subnet", SUBNET_CONTRACT, async (_id: string, olds: Props, news: Props) => subnet.diffOf(olds, news), storedSubnet, { cidr: "10.0.0.0/24" }, SUBNET_CHANGES],
  ["IpAllocation", ALLOCATION_CONTRACT, allocation.diff, storedAllocation, { subnetId: "1" }, ALLOCATION_CHANGES],
] as const)("%s Diff does what its contract says", (_resource, contract: ResourceContract, diff, stored, same, changes: Record<string, unknown>) => {
  it("the same inputs, the rest absent (their defaults), change nothing", async () => {
    expect(await diff("1", stored, same)).toMatchObject({ changes: false, replaces: [] });
  });

  it.each(Object.entries(contract.inputs).map(([input, spec]) => [input, spec.change] as const))("changing %s: %s", async (input, change) => {
    const result = await diff("1", stored, { ...same, [input]: changes[input] });
    if (change === "replace") expect(result).toMatchObject({ changes: true, replaces: [input] });
    if (change === "update") expect(result).toMatchObject({ changes: true, replaces: [] });
    if (change === "none") expect(result).toMatchObject({ changes: false, replaces: [] });
  });
});

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SNAPSHOT_FORMAT, validateSnapshot } from "../../provider/core/snapshot.js";
import { checkSnapshotFile } from "../../provider/store/snapshots/snapshotFileCheck.js";

/**
 * Issue 25: the streamed check (record by record, compact indexes) gives the verdict of the
 * whole-file check (validateSnapshot over JSON.parse of the file): the same issues, fields and
 * reasons in the same order, for valid files, bad fields, duplicates, addresses outside their subnet
 * or inside a child, holds, top-level mistakes, and files whose allocations come first.
 */
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ipam-streamed-check-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const subnet = (id: string, cidr: string, extra: object = {}) => ({
  id, namespace: "n", parentId: null, cidr, gateway: null, allocationPools: null, reserved: [], description: "", tags: {}, ...extra,
});
const allocation = (id: string, subnetId: string, addresses: string[], extra: object = {}) => ({
  id, subnetId, owner: `o${id}`, idempotencyKey: `k${id}`, strategy: addresses.length === 1 ? "specific" : "sequential", addresses, description: "", tags: {}, ...extra,
});

/** A valid file: a parent with children, IPv6, a hold, bulk and single allocations. */
function base(): Record<string, any> {
  return {
    format: SNAPSHOT_FORMAT,
    exportedAt: "2026-12-06T10:00:00.000Z",
    subnets: [
      subnet("1", "10.0.0.0/16", { releaseHoldSeconds: 60, heldAddresses: [{ address: "10.0.9.9", heldUntil: "2099-01-01T00:00:00.000Z", owner: "gone", allocationId: "77" }],
        heldChildBlocks: [{ cidr: "10.0.5.0/24", heldUntil: "2099-01-01T00:00:00.000Z", childId: "9", childKey: null }] }),
      subnet("2", "10.0.1.0/24", { parentId: "1" }),
      subnet("3", "10.0.2.0/24", { parentId: "1" }),
      subnet("4", "2001:db8::/64", { namespace: "six" }),
    ],
    allocations: [
      allocation("10", "1", ["10.0.0.5"]),
      allocation("11", "1", ["10.0.3.1", "10.0.3.2", "10.0.3.3"]),
      allocation("12", "2", ["10.0.1.7"]),
      allocation("13", "4", ["2001:db8::1", "2001:db8::2"]),
      allocation("14", "3", ["10.0.2.9"], { idempotencyKey: null }),
      ...Array.from({ length: 40 }, (_, i) => allocation(String(100 + i), String(1 + (i % 3)), [`10.0.${i % 3 === 0 ? 4 : i % 3}.${20 + i}`])),
    ],
  };
}

type Verdict = { valid: true; subnets: number; allocations: number } | { valid: false; issues: readonly { field: string; reason: string }[] };

function wholeFile(text: string): Verdict {
  try {
    const valid = validateSnapshot(JSON.parse(text));
    return { valid: true, subnets: valid.subnets.length, allocations: valid.allocations.length };
  } catch (error) {
    return { valid: false, issues: (error as { issues: { field: string; reason: string }[] }).issues };
  }
}

let counter = 0;
async function streamed(text: string): Promise<Verdict> {
  const path = join(dir, `f${(counter += 1)}.json`);
  await writeFile(path, text);
  try {
    const { checked } = await checkSnapshotFile(path, "f.json");
    return { valid: true, subnets: checked.subnets.length, allocations: checked.allocations };
  } catch (error) {
    return { valid: false, issues: (error as { issues: { field: string; reason: string }[] }).issues };
  } finally {
    await rm(path, { force: true });
  }
}

const cases: [string, (file: Record<string, any>) => unknown][] = [
  ["valid", (f) => f],
  ["a duplicate address in another allocation", (f) => (f.allocations[20].addresses = ["10.0.0.5"], f)],
  ["an address outside its subnet", (f) => (f.allocations[2].addresses = ["10.9.0.1"], f)],
  ["an address inside a child of its subnet", (f) => (f.allocations[0].addresses = ["10.0.2.50"], f)],
  ["an allocation id twice", (f) => (f.allocations[30].id = "11", f)],
  ["an idempotency key twice in a subnet", (f) => (f.allocations[1].idempotencyKey = "k10", f)],
  ["a specific allocation of two addresses", (f) => (f.allocations[0].addresses = ["10.0.0.5", "10.0.0.6"], f)],
  ["a bad field (owner a number) and an unknown one", (f) => ((f.allocations[3].owner = 5), (f.allocations[9].colour = "red"), f)],
  ["a bad subnet field and a bad allocation field", (f) => ((f.subnets[2].cidr = "10.0.2.1/24"), (f.allocations[5].strategy = "any"), f)],
  ["overlapping children", (f) => (f.subnets[2].cidr = "10.0.1.128/25", f)],
  ["a parent missing", (f) => (f.subnets[1].parentId = "99", f)],
  ["a hold on an allocated address", (f) => (f.subnets[0].heldAddresses[0].address = "10.0.0.5", f)],
  ["an address inside a held child block", (f) => (f.allocations[0].addresses = ["10.0.5.7"], f)],
  ["a hold on an address inside a held child block", (f) => (f.subnets[0].heldAddresses[0].address = "10.0.5.9", f)],
  ["a held child block overlapping a child", (f) => (f.subnets[0].heldChildBlocks[0].cidr = "10.0.1.0/25", f)],
  ["a held child block around a child", (f) => (f.subnets[0].heldChildBlocks[0].cidr = "10.0.0.0/22", f)],
  ["a held child block outside its subnet, and one of another family", (f) => (f.subnets[0].heldChildBlocks.push({ ...f.subnets[0].heldChildBlocks[0], cidr: "10.1.0.0/24" }, { ...f.subnets[0].heldChildBlocks[0], cidr: "2001:db8::/64" }), f)],
  ["two overlapping held child blocks", (f) => (f.subnets[0].heldChildBlocks.push({ ...f.subnets[0].heldChildBlocks[0], cidr: "10.0.5.128/25" }), f)],
  ["a held child block with host bits set", (f) => (f.subnets[0].heldChildBlocks[0].cidr = "10.0.5.1/24", f)],
  ["an allocation in a subnet not in the file", (f) => (f.allocations[7].subnetId = "42", f)],
  ["a wrong format and an unknown top-level key", (f) => ({ ...f, format: "v0", extra: [1, 2] })],
  ["subnets missing", (f) => ({ format: f.format, allocations: f.allocations })],
  ["subnets not an array", (f) => ({ ...f, subnets: { a: 1 } })],
  ["no top-level object", () => [1, 2, 3]],
  ["allocations before subnets", (f) => ({ format: f.format, allocations: f.allocations, subnets: f.subnets })],
  ["allocations before subnets, with a duplicate", (f) => ({ format: f.format, allocations: [...f.allocations, f.allocations[4]], subnets: f.subnets })],
  ["allocations before an empty subnets array", (f) => ({ format: f.format, allocations: f.allocations, subnets: [] })],
  ["more than 50 bad addresses", (f) => (f.allocations[1].addresses = Array.from({ length: 80 }, (_, i) => `10.8.0.${i}`), f)],
];

describe("streamed check vs whole-file check (issue 25)", () => {
  it.each(cases)("same verdict: %s", async (_, mutate) => {
    const text = JSON.stringify(mutate(base()), null, 2);
    const expected = wholeFile(text);
    expect(await streamed(text)).toEqual(expected);
  });

  it("same verdict for random damage to a random record", async () => {
    const junk = fc.constantFrom<unknown>(null, 7, "", "x", "10.0.0.5", "10.0.1.7", "2001:db8::1", "1", "11", [], ["10.0.0.5"], {}, true, "2026-13-01T00:00:00Z");
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("subnets", "allocations"), fc.nat(), fc.nat(), junk, async (section, which, field, value) => {
        const file = base();
        const records = file[section] as Record<string, unknown>[];
        const record = records[which % records.length]!;
        const keys = Object.keys(record);
        record[keys[field % keys.length]!] = value;
        const text = JSON.stringify(file);
        expect(await streamed(text)).toEqual(wholeFile(text));
      }),
      { numRuns: 60 },
    );
  });

  it("malformed JSON mid-stream and a truncated file: an error naming the file, with where it stops", async () => {
    const text = JSON.stringify(base(), null, 2);
    const middle = text.indexOf('"10.0.3.2"');
    const broken = await streamed(`${text.slice(0, middle)}"10.0.3.2" "x"${text.slice(middle + 10)}`);
    expect(broken).toEqual({ valid: false, issues: [{ field: "file", reason: expect.stringMatching(/^f\.json is not JSON: Unexpected .* at position \d+$/) }] });
    // V8's own words for a cut file, as JSON.parse said them.
    const cut = await streamed(text.slice(0, middle));
    expect(cut).toEqual({ valid: false, issues: [{ field: "file", reason: "f.json is not JSON: Unexpected end of JSON input" }] });
    expect(() => JSON.parse(text.slice(0, middle))).toThrow(/Unexpected end of JSON input|Unterminated string|Expected/);
    expect(await streamed("")).toEqual({ valid: false, issues: [{ field: "file", reason: "f.json is not JSON: Unexpected end of JSON input" }] });
    expect(await streamed(`${text}\n{}`)).toEqual({ valid: false, issues: [{ field: "file", reason: expect.stringContaining("f.json is not JSON: Unexpected") }] });
  });
});

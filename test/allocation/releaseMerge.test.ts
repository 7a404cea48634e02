import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Allocation, Subnet } from "../../provider/core/types.js";
import { useTestIpamWithAdmin } from "../helpers/openTestIpam.js";

/**
 * Issue 25, scenario 13 (destroy): a release gives its addresses back by merging them with the
 * neighbouring free ranges (return_released, migration 0020) instead of re-deriving a window. The
 * index it leaves must be exactly the one a rebuild derives from the subnet's data, whatever the
 * order of the releases: next to pool edges, the gateway, reserved entries, a child prefix, and
 * to each other (runs of several addresses, neighbours released one after the other).
 */
const t = useTestIpamWithAdmin("releasemerge");

type Row = { first: string; last: string };

async function freeRanges(subnetId: string): Promise<Row[]> {
  const rows = await t.admin.query<Row>(
    "SELECT first_ordinal::text AS first, last_ordinal::text AS last FROM ipam.free_range WHERE subnet_id = $1 ORDER BY first_ordinal",
    [Number(subnetId)],
  );
  return rows.rows;
}

/** The free ranges as stored, and as rebuild_free_ranges derives them (in a transaction rolled back). */
async function storedAndRebuilt(subnetId: string): Promise<{ stored: Row[]; rebuilt: Row[] }> {
  const stored = await freeRanges(subnetId);
  await t.admin.query("BEGIN");
  try {
    await t.admin.query("SELECT ipam.rebuild_free_ranges($1)", [Number(subnetId)]);
    return { stored, rebuilt: await freeRanges(subnetId) };
  } finally {
    await t.admin.query("ROLLBACK");
  }
}

const COUNTS = [1, 1, 2, 3];

/** Allocations of 1-3 addresses until the subnet has none left. */
async function fillSubnet(subnet: Subnet): Promise<Allocation[]> {
  const allocations: Allocation[] = [];
  for (let i = 0; ; i += 1) {
    const count = COUNTS[i % COUNTS.length]!;
    const result = await t.ipam.allocate({ subnetId: subnet.id, owner: `merge/a${i}`, count }).catch((error: { code?: string }) => error);
    if ("allocation" in result) {
      allocations.push(result.allocation);
    } else if (result.code !== "SUBNET_EXHAUSTED") {
      throw result;
    } else if (count === 1) {
      return allocations;
    }
  }
}

/** Release every allocation in the order of `keys`, checking the index against a rebuild after each. */
async function releaseInOrder(subnet: Subnet, keys: readonly number[]): Promise<void> {
  const allocations = await fillSubnet(subnet);
  expect(allocations.length).toBeGreaterThan(20);
  expect(await freeRanges(subnet.id)).toEqual([]);
  const order = allocations.map((allocation, i) => ({ allocation, key: keys[i % keys.length]! })).sort((a, b) => a.key - b.key);
  for (const { allocation } of order) {
    expect(await t.ipam.release(allocation.id, { subnetId: subnet.id })).toMatchObject({ released: true });
    const { stored, rebuilt } = await storedAndRebuilt(subnet.id);
    expect(stored).toEqual(rebuilt);
  }
  expect((await freeRanges(subnet.id)).length).toBeGreaterThan(0);
}

const orders = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 64, maxLength: 64 });

describe("released addresses merged into the free ranges equal a rebuild, in any order", () => {
  it("pools with edges, a gateway and reserved entries (IPv4)", async () => {
    const subnet = await t.ipam.createSubnet({
      cidr: "10.201.0.0/26",
      namespace: "merge",
      gateway: "10.201.0.1",
      reserved: ["10.201.0.16/30", "10.201.0.40"],
      allocationPools: [
        { start: "10.201.0.2", end: "10.201.0.30" },
        { start: "10.201.0.33", end: "10.201.0.62" },
      ],
    });
    await fc.assert(fc.asyncProperty(orders, (keys) => releaseInOrder(subnet, keys)), { seed: 25, numRuns: 4 });
  }, 120_000);

  it("a parent whose addresses border two child prefixes", async () => {
    const parent = await t.ipam.createSubnet({ cidr: "10.202.0.0/26", namespace: "merge" });
    await t.ipam.createSubnet({ parentId: parent.id, cidr: "10.202.0.32/29" });
    await t.ipam.createSubnet({ parentId: parent.id, cidr: "10.202.0.8/30" });
    await fc.assert(fc.asyncProperty(orders, (keys) => releaseInOrder(parent, keys)), { seed: 13, numRuns: 4 });
  }, 120_000);

  it("IPv6: the subnet-router anycast address, a gateway and a reserved block", async () => {
    const subnet = await t.ipam.createSubnet({ cidr: "fd00:25::/122", namespace: "merge", gateway: "fd00:25::1", reserved: ["fd00:25::20/126"] });
    await fc.assert(fc.asyncProperty(orders, (keys) => releaseInOrder(subnet, keys)), { seed: 5, numRuns: 3 });
  }, 120_000);
});

describe("what return_released takes back is decided by the database", () => {
  it("an address still allocated, held, inside a child or kept back by the subnet stays out of the free ranges", async () => {
    const subnet = await t.ipam.createSubnet({
      cidr: "10.203.0.0/27",
      namespace: "merge",
      gateway: "10.203.0.1",
      reserved: ["10.203.0.20"],
      allocationPools: [{ start: "10.203.0.2", end: "10.203.0.29" }],
      releaseHoldSeconds: 300,
    });
    await t.ipam.createSubnet({ parentId: subnet.id, cidr: "10.203.0.24/30" });
    const taken = (await t.ipam.allocate({ subnetId: subnet.id, owner: "merge/taken", count: 3 })).allocation;
    const held = (await t.ipam.allocate({ subnetId: subnet.id, owner: "merge/held" })).allocation;
    await t.ipam.release(held.id);
    const before = await freeRanges(subnet.id);
    const ordinalOf = async (address: string) => (await t.admin.query<{ o: string }>("SELECT ipam.inet_to_ordinal($1::inet)::text AS o", [address])).rows[0]!.o;
    const kept = ["10.203.0.0", "10.203.0.1", "10.203.0.20", "10.203.0.25", "10.203.0.30", "10.203.0.31", ...taken.addresses, ...held.addresses];
    const ordinals: string[] = [];
    for (const address of kept) ordinals.push(await ordinalOf(address));
    await t.admin.query("SELECT ipam.return_released($1, $2::numeric[])", [Number(subnet.id), ordinals]);
    expect(await freeRanges(subnet.id)).toEqual(before);
    const { stored, rebuilt } = await storedAndRebuilt(subnet.id);
    expect(stored).toEqual(rebuilt);
  });
});

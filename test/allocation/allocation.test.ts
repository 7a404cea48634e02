import { describe, expect, it } from "vitest";
import { useTestIpam } from "../helpers/openTestIpam.js";
import { failure } from "../helpers/failure.js";
import { freeIndexComparison } from "../helpers/freeIndex.js";

const context = useTestIpam("alloc");
let cidrCounter = 0;
const nextCidr = () => `10.70.${cidrCounter++}.0/24`;

async function expectIndexConsistent(subnetId: string) {
  const { stored, expected } = await freeIndexComparison(context.db.url, await context.ipam.getSubnet(subnetId));
  expect(stored).toEqual(expected);
}

describe("allocate", () => {
  it("hands out the lowest free address, skipping gateway and reserved", async () => {
    const { ipam } = context;
    const subnet = await ipam.createSubnet({ cidr: nextCidr(), gateway: "10.70.0.1", reserved: ["10.70.0.2", "10.70.0.4/30"] });
    const got = [];
    for (let i = 0; i < 4; i += 1) got.push((await ipam.allocate({ subnetId: subnet.id, owner: "seq" })).allocation.addresses[0]);
    expect(got).toEqual(["10.70.0.3", "10.70.0.8", "10.70.0.9", "10.70.0.10"]);
    await expectIndexConsistent(subnet.id);
  });

  it("takes a specific address anywhere usable, including outside the pools", async () => {
    const { ipam } = context;
    const subnet = await ipam.createSubnet({ cidr: nextCidr(), gateway: "10.70.1.1", allocationPools: [{ start: "10.70.1.100", end: "10.70.1.110" }] });
    const outside = await ipam.allocate({ subnetId: subnet.id, owner: "s", address: "10.70.1.20" });
    expect(outside.allocation).toMatchObject({ addresses: ["10.70.1.20"], strategy: "specific" });
    const inside = await ipam.allocate({ subnetId: subnet.id, owner: "s", address: "10.70.1.105" });
    expect(inside.allocation.addresses).toEqual(["10.70.1.105"]);
    const taken = await failure(ipam.allocate({ subnetId: subnet.id, owner: "s", address: "10.70.1.105" }));
    expect(taken).toMatchObject({ code: "ADDRESS_IN_USE", address: "10.70.1.105" });
    const takenOutside = await failure(ipam.allocate({ subnetId: subnet.id, owner: "s", address: "10.70.1.20" }));
    expect(takenOutside.code).toBe("ADDRESS_IN_USE");
    for (const [address, reason] of [["10.70.1.1", "gateway"], ["10.70.1.0", "network"], ["10.70.1.255", "broadcast"], ["10.70.9.9", "not inside"], ["2001:db8::1", "IPv6"]] as const) {
      const error = await failure(ipam.allocate({ subnetId: subnet.id, owner: "s", address }));
      expect(error.code).toBe("INVALID_INPUT");
      expect(error.message).toMatch(new RegExp(`^address: .*${reason}`));
    }
    // The pool still hands out the others, around the specific one.
    const next = await ipam.allocate({ subnetId: subnet.id, owner: "s", count: 6 });
    expect(next.allocation.addresses).toEqual(["10.70.1.100", "10.70.1.101", "10.70.1.102", "10.70.1.103", "10.70.1.104", "10.70.1.106"]);
    await expectIndexConsistent(subnet.id);
  });

  it("allocates many at once, all or nothing", async () => {
    const { ipam } = context;
    const subnet = await ipam.createSubnet({ cidr: "10.70.200.0/28" });
    const first = await ipam.allocate({ subnetId: subnet.id, owner: "bulk", count: 10 });
    expect(first.allocation.addresses).toHaveLength(10);
    const tooMany = await failure(ipam.allocate({ subnetId: subnet.id, owner: "bulk", count: 5 }));
    expect(tooMany).toMatchObject({ code: "SUBNET_EXHAUSTED", requested: 5 });
    expect(await ipam.usage(subnet.id)).toMatchObject({ allocated: "10", free: "4" });
    const random = await failure(ipam.allocate({ subnetId: subnet.id, owner: "bulk", count: 5, strategy: "random" }));
    expect(random.code).toBe("SUBNET_EXHAUSTED");
    expect(await ipam.usage(subnet.id)).toMatchObject({ allocated: "10", free: "4" });
    const rest = await ipam.allocate({ subnetId: subnet.id, owner: "bulk", count: 4, strategy: "random" });
    expect(new Set([...first.allocation.addresses, ...rest.allocation.addresses]).size).toBe(14);
    expect((await failure(ipam.allocate({ subnetId: subnet.id, owner: "bulk" }))).code).toBe("SUBNET_EXHAUSTED");
    expect((await failure(ipam.allocate({ subnetId: subnet.id, owner: "bulk", strategy: "random" }))).code).toBe("SUBNET_EXHAUSTED");
    await expectIndexConsistent(subnet.id);
  });

  it("random picks are distinct, inside the pools, and spread over them", async () => {
    const { ipam } = context;
    const subnet = await ipam.createSubnet({ cidr: "10.71.0.0/22", reserved: ["10.71.1.0/24"] });
    const addresses: string[] = [];
    for (let i = 0; i < 40; i += 1) addresses.push(...(await ipam.allocate({ subnetId: subnet.id, owner: "rnd", strategy: "random" })).allocation.addresses);
    const bulk = await ipam.allocate({ subnetId: subnet.id, owner: "rnd", strategy: "random", count: 200 });
    addresses.push(...bulk.allocation.addresses);
    expect(new Set(addresses).size).toBe(240);
    const thirdOctets = addresses.map((a) => Number(a.split(".")[2]));
    expect(thirdOctets).not.toContain(1);
    // 240 uniform draws over 3 /24s: each gets ~80; fewer than 40 in one is a >5-sigma event.
    for (const octet of [0, 2, 3]) expect(thirdOctets.filter((o) => o === octet).length).toBeGreaterThan(40);
    await expectIndexConsistent(subnet.id);
  });

  it("random still finds the last free addresses of a nearly full subnet", async () => {
    const { ipam } = context;
    const subnet = await ipam.createSubnet({ cidr: "10.72.0.0/23" });
    await ipam.allocate({ subnetId: subnet.id, owner: "fill", count: 508 });
    const last = [];
    for (let i = 0; i < 2; i += 1) last.push((await ipam.allocate({ subnetId: subnet.id, owner: "rnd", strategy: "random" })).allocation.addresses[0]);
    expect(last.sort()).toEqual(["10.72.1.253", "10.72.1.254"]);
    expect((await failure(ipam.allocate({ subnetId: subnet.id, owner: "rnd", strategy: "random" }))).code).toBe("SUBNET_EXHAUSTED");
  });

  it("repeating an idempotency key returns the first result and allocates nothing new", async () => {
    const { ipam } = context;
    const subnet = await ipam.createSubnet({ cidr: nextCidr() });
    const request = { subnetId: subnet.id, owner: "proj/stack/web", idempotencyKey: "proj/stack/web#1", count: 3 };
    const first = await ipam.allocate(request);
    const again = await ipam.allocate(request);
    expect(first.created).toBe(true);
    expect(again).toEqual({ allocation: first.allocation, created: false, subnet: first.subnet });
    const concurrent = await Promise.all(Array.from({ length: 8 }, () => ipam.allocate({ ...request, idempotencyKey: "proj/stack/web#2" })));
    expect(new Set(concurrent.map((r) => r.allocation.id)).size).toBe(1);
    expect(concurrent.filter((r) => r.created)).toHaveLength(1);
    expect(await ipam.usage(subnet.id)).toMatchObject({ allocated: "6" });
    const mismatch = await failure(ipam.allocate({ ...request, strategy: "random" }));
    expect(mismatch.code).toBe("IDEMPOTENCY_MISMATCH");
  });

  it("a single next-free request replays by key, even once the subnet is full", async () => {
    const { ipam } = context;
    const subnet = await ipam.createSubnet({ cidr: "10.73.0.0/30" }); // two usable addresses
    const request = { subnetId: subnet.id, owner: "proj/stack/db", idempotencyKey: "proj/stack/db#1" };
    const concurrent = await Promise.all(Array.from({ length: 8 }, () => ipam.allocate(request)));
    expect(new Set(concurrent.map((r) => r.allocation.id)).size).toBe(1);
    expect(concurrent.filter((r) => r.created)).toHaveLength(1);
    const first = concurrent.find((r) => r.created)!.allocation;
    const subnetFields = { prefixLength: 30, gateway: null };
    expect(await ipam.allocate(request)).toEqual({ allocation: first, created: false, subnet: subnetFields });
    await ipam.allocate({ subnetId: subnet.id, owner: "other" });
    expect(await ipam.usage(subnet.id)).toMatchObject({ allocated: "2", free: "0" });
    expect(await ipam.allocate(request)).toEqual({ allocation: first, created: false, subnet: subnetFields });
    expect((await failure(ipam.allocate({ ...request, idempotencyKey: "proj/stack/db#2" }))).code).toBe("SUBNET_EXHAUSTED");
    expect((await failure(ipam.allocate({ ...request, strategy: "random" }))).code).toBe("IDEMPOTENCY_MISMATCH");
    expect(await ipam.usage(subnet.id)).toMatchObject({ allocated: "2" });
  });

  it("releases, shrinks and grows; releasing twice is harmless", async () => {
    const { ipam } = context;
    const subnet = await ipam.createSubnet({ cidr: nextCidr() });
    const a = await ipam.allocate({ subnetId: subnet.id, owner: "r", count: 5 });
    const b = await ipam.allocate({ subnetId: subnet.id, owner: "r" });
    const shrunk = await ipam.resizeAllocation({ allocationId: a.allocation.id, count: 2 });
    expect(shrunk.released).toEqual(a.allocation.addresses.slice(2));
    expect(shrunk.allocation.addresses).toEqual(a.allocation.addresses.slice(0, 2));
    const grown = await ipam.resizeAllocation({ allocationId: a.allocation.id, count: 4 });
    expect(grown.allocation.addresses).toEqual([...a.allocation.addresses.slice(0, 2), ...a.allocation.addresses.slice(2, 4)]);
    await expectIndexConsistent(subnet.id);
    expect(await ipam.release(b.allocation.id)).toEqual({ released: true, addresses: b.allocation.addresses });
    expect(await ipam.release(b.allocation.id)).toEqual({ released: false, addresses: [] });
    expect(await ipam.release("999999")).toEqual({ released: false, addresses: [] });
    await expectIndexConsistent(subnet.id);
    const specific = await ipam.allocate({ subnetId: subnet.id, owner: "r", address: subnet.cidr.replace(/0\/24$/, "200") });
    expect((await failure(ipam.resizeAllocation({ allocationId: specific.allocation.id, count: 2 }))).message).toContain("count:");
    expect((await failure(ipam.resizeAllocation({ allocationId: a.allocation.id, count: 0 }))).message).toContain("count: must be at least 1");
  });

  it("releases with the subnet the caller names, and through the lookup when the allocation is in another one", async () => {
    const { ipam } = context;
    const first = await ipam.createSubnet({ cidr: nextCidr() });
    const second = await ipam.createSubnet({ cidr: nextCidr() });
    const here = await ipam.allocate({ subnetId: first.id, owner: "hint", count: 3 });
    const there = await ipam.allocate({ subnetId: second.id, owner: "hint" });
    const between = await ipam.allocate({ subnetId: first.id, owner: "hint" });
    // The right subnet: released, its addresses back in the free index (merged with both neighbours below).
    expect(await ipam.release(between.allocation.id, { subnetId: first.id })).toEqual({ released: true, addresses: between.allocation.addresses });
    // A wrong subnet (a stale or crossed id in state): still released, from the subnet that holds it, and nothing else changes.
    expect(await ipam.release(there.allocation.id, { subnetId: first.id })).toEqual({ released: true, addresses: there.allocation.addresses });
    expect((await ipam.getAllocation(here.allocation.id)).addresses).toEqual(here.allocation.addresses);
    // Gone, or a superseded claim: nothing changes, with or without the subnet named.
    expect(await ipam.release(there.allocation.id, { subnetId: second.id })).toEqual({ released: false, addresses: [] });
    const claimed = await ipam.adoptAllocation({ allocationId: here.allocation.id, owner: "hint", claim: "newer" });
    expect(await ipam.release(claimed.id, { subnetId: first.id, claim: "older" })).toEqual({ released: false, addresses: [], superseded: true });
    expect(await ipam.release(claimed.id, { subnetId: first.id, claim: "newer" })).toEqual({ released: true, addresses: here.allocation.addresses });
    expect((await failure(ipam.release(claimed.id, { subnetId: "0" }))).message).toContain("subnetId");
    await expectIndexConsistent(first.id);
    await expectIndexConsistent(second.id);
    expect(await ipam.usage(first.id)).toMatchObject({ allocated: "0" });
    expect(await ipam.usage(second.id)).toMatchObject({ allocated: "0" });
  });

  it("looks up who holds an address and pages through allocations", async () => {
    const { ipam } = context;
    const subnet = await ipam.createSubnet({ cidr: nextCidr() });
    const ids = [];
    for (let i = 0; i < 5; i += 1) ids.push((await ipam.allocate({ subnetId: subnet.id, owner: `o${i}` })).allocation.id);
    const holder = await ipam.whoHolds(subnet.id, subnet.cidr.replace(/0\/24$/, "3"));
    expect(holder).toMatchObject({ id: ids[2], owner: "o2" });
    expect(await ipam.whoHolds(subnet.id, subnet.cidr.replace(/0\/24$/, "99"))).toBeNull();
    const page1 = await ipam.listAllocations({ subnetId: subnet.id }, { limit: 2 });
    const page2 = await ipam.listAllocations({ subnetId: subnet.id }, { limit: 2, after: page1.next! });
    const page3 = await ipam.listAllocations({ subnetId: subnet.id }, { limit: 2, after: page2.next! });
    expect([...page1.allocations, ...page2.allocations, ...page3.allocations].map((a) => a.id)).toEqual(ids);
    expect(page3.next).toBeNull();
  });

  it("validates every field of a request and writes nothing", async () => {
    const { ipam } = context;
    const subnet = await ipam.createSubnet({ cidr: nextCidr() });
    const cases: [Record<string, unknown>, string][] = [
      [{ subnetId: subnet.id, owner: "" }, "owner: must not be empty"],
      [{ subnetId: subnet.id, owner: "x", count: 0 }, "count: must be at least 1"],
      [{ subnetId: subnet.id, owner: "x", count: 1.5 }, "count: must be a whole number"],
      [{ subnetId: subnet.id, owner: "x", count: Number.NaN }, "count:"],
      [{ subnetId: subnet.id, owner: "x", count: 10 ** 9 }, "count: must be at most 65536"],
      [{ subnetId: subnet.id, owner: "x", strategy: "best" }, 'strategy: must be "sequential" or "random"'],
      [{ subnetId: subnet.id, owner: "x", address: subnet.cidr.replace(/0\/24$/, "5"), count: 2 }, "count: must be 1 when a specific address is requested"],
      [{ subnetId: "1; DROP TABLE ipam.subnet", owner: "x" }, "subnetId: must be a positive decimal integer string"],
      [{ subnetId: subnet.id, owner: "x\u0000y" }, "owner: must not contain NUL characters"],
      [{ subnetId: subnet.id, owner: "x", tags: { k: "v".repeat(300) } }, "tags.k: must be at most 256 characters"],
      [{ subnetId: subnet.id, owner: "x", address: "010.70.7.5" }, "address:"],
    ];
    for (const [input, message] of cases) {
      const error = await failure(ipam.allocate(input as never));
      expect(error.code, JSON.stringify(input)).toBe("INVALID_INPUT");
      expect(error.message).toContain(message);
    }
    expect((await failure(ipam.allocate({ subnetId: "424242", owner: "x" }))).code).toBe("NOT_FOUND");
    expect(await ipam.usage(subnet.id)).toMatchObject({ allocated: "0" });
  });

  it("works in an IPv6 /64 that already holds a million addresses", async () => {
    const { ipam, db } = context;
    const subnet = await ipam.createSubnet({ cidr: "2001:db8:1::/64", namespace: "big" });
    const pg = (await import("pg")).default;
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      // Fill with bulk SQL the way the allocator would: addresses ::1..::f4240 and the free range after them.
      const base = BigInt(`0x20010db8000100000000000000000000`);
      await client.query("BEGIN");
      const { rows } = await client.query(
        `INSERT INTO ipam.allocation (subnet_id, owner, strategy) VALUES ($1, 'fill', 'sequential') RETURNING id`, [Number(subnet.id)]);
      await client.query(
        `INSERT INTO ipam.allocated_address (subnet_id, address, ordinal, allocation_id)
         SELECT $1, '2001:db8:1::'::inet + n, $3::numeric + n, $2 FROM generate_series(1::bigint, 1000000::bigint) AS n`,
        [Number(subnet.id), rows[0].id, base.toString()]);
      await client.query(`UPDATE ipam.free_range SET first_ordinal = $2 WHERE subnet_id = $1`, [Number(subnet.id), (base + 1_000_001n).toString()]);
      await client.query("COMMIT");
    } finally {
      await client.end();
    }
    const next = await ipam.allocate({ subnetId: subnet.id, owner: "after" });
    expect(next.allocation.addresses).toEqual(["2001:db8:1::f:4241"]);
    const random = await ipam.allocate({ subnetId: subnet.id, owner: "after", strategy: "random", count: 3 });
    expect(random.allocation.addresses).toHaveLength(3);
    expect((await failure(ipam.allocate({ subnetId: subnet.id, owner: "after", address: "2001:db8:1::5" }))).code).toBe("ADDRESS_IN_USE");
    expect(await ipam.usage(subnet.id)).toMatchObject({ allocated: "1000004" });
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseAddress, parseCidr, formatAddress } from "../../provider/core/address.js";
import { AllocatorModel, GATEWAY, type Offset } from "../helpers/allocatorModel.js";
import { checkInvariants } from "../helpers/invariants.js";
import { useTestIpamWithAdmin } from "../helpers/openTestIpam.js";

interface Real {
  readonly subnetId: string;
  readonly version: 4 | 6;
  readonly base: bigint;
}

const t = useTestIpamWithAdmin("model");
let runs = 0;

const CIDR = { 4: "10.90.0.0/28", 6: "fd00:90::/124" } as const;
const POOL_SETS: ([Offset, Offset][] | null)[] = [null, [[2, 8]], [[4, 14]], [[2, 5], [10, 14]], [[12, 14]], [[3, 3], [7, 7]]];
const RESERVED_SETS: Offset[][] = [[9], [9, 13], [], [3, 4], [2, 6, 10, 14]];

const address = (real: Real, offset: Offset) => formatAddress(real.version, real.base + BigInt(offset));
const offsetOf = (real: Real, text: string) => Number(parseAddress(text, "address").value - real.base);
const offsetsOf = (real: Real, texts: readonly string[]) => texts.map((text) => offsetOf(real, text));
const poolsFor = (real: Real, pools: [Offset, Offset][] | null) => pools?.map(([first, last]) => ({ start: address(real, first), end: address(real, last) })) ?? null;

/** After every command: the database holds exactly the model's allocations and free index. */
async function compare(model: AllocatorModel, real: Real): Promise<void> {
  const { allocations } = await t.ipam.listAllocations({ subnetId: real.subnetId }, { limit: 100 });
  expect(allocations.map((a) => `${a.id}:${offsetsOf(real, a.addresses).join(",")}`).sort()).toEqual(
    [...model.allocations].map(([id, a]) => `${id}:${[...a.offsets].sort((x, y) => x - y).join(",")}`).sort(),
  );
  const { rows } = await t.admin.query<{ first: string; last: string }>(
    "SELECT first_ordinal::text AS first, last_ordinal::text AS last FROM ipam.free_range WHERE subnet_id = $1 ORDER BY first_ordinal",
    [Number(real.subnetId)],
  );
  expect(rows.map((row) => [Number(BigInt(row.first) - real.base), Number(BigInt(row.last) - real.base)])).toEqual(model.freeRuns());
  const usage = await t.ipam.usage(real.subnetId);
  expect({ allocated: usage.allocated, free: usage.free }).toEqual({ allocated: String(model.allocated().size), free: String(model.free().length) });
}

type Cmd = fc.AsyncCommand<AllocatorModel, Real>;

class Allocate implements Cmd {
  constructor(readonly strategy: "sequential" | "random", readonly count: number) {}
  check = () => true;
  async run(model: AllocatorModel, real: Real): Promise<void> {
    const free = model.free();
    const request = t.ipam.allocate({ subnetId: real.subnetId, owner: "model", strategy: this.strategy, ...(this.count > 1 ? { count: this.count } : {}) });
    if (free.length < this.count) {
      await expect(request).rejects.toMatchObject({ code: "SUBNET_EXHAUSTED" });
    } else {
      const { allocation } = await request;
      const got = offsetsOf(real, allocation.addresses);
      // Sequential takes exactly the lowest free addresses; random takes distinct free ones.
      if (this.strategy === "sequential") expect(got).toEqual(free.slice(0, this.count));
      else {
        expect(new Set(got).size).toBe(this.count);
        expect(got.every((o) => free.includes(o))).toBe(true);
      }
      model.allocations.set(allocation.id, { offsets: got, strategy: this.strategy });
    }
    await compare(model, real);
  }
  toString = () => `allocate(${this.strategy}, ${this.count})`;
}

class AllocateSpecific implements Cmd {
  constructor(readonly offset: Offset) {}
  check = () => true;
  async run(model: AllocatorModel, real: Real): Promise<void> {
    const refusal = model.specificRefusal(this.offset);
    const request = t.ipam.allocate({ subnetId: real.subnetId, owner: "model", address: address(real, this.offset) });
    if (refusal !== null) {
      await expect(request).rejects.toMatchObject({ code: refusal });
    } else {
      const { allocation } = await request;
      expect(allocation.addresses).toEqual([address(real, this.offset)]);
      model.allocations.set(allocation.id, { offsets: [this.offset], strategy: "specific" });
    }
    await compare(model, real);
  }
  toString = () => `allocate(specific +${this.offset})`;
}

class Release implements Cmd {
  constructor(readonly pick: number) {}
  check = (model: Readonly<AllocatorModel>) => model.allocations.size > 0;
  async run(model: AllocatorModel, real: Real): Promise<void> {
    const id = model.ids()[this.pick % model.allocations.size]!;
    const result = await t.ipam.release(id);
    expect({ released: result.released, offsets: offsetsOf(real, result.addresses) }).toEqual({
      released: true,
      offsets: [...model.allocations.get(id)!.offsets].sort((a, b) => a - b),
    });
    model.allocations.delete(id);
    expect(await t.ipam.release(id)).toEqual({ released: false, addresses: [] });
    await compare(model, real);
  }
  toString = () => `release(#${this.pick})`;
}

class Resize implements Cmd {
  constructor(readonly pick: number, readonly count: number) {}
  check = (model: Readonly<AllocatorModel>) => model.allocations.size > 0;
  async run(model: AllocatorModel, real: Real): Promise<void> {
    const id = model.ids()[this.pick % model.allocations.size]!;
    const current = model.allocations.get(id)!;
    const held = [...current.offsets].sort((a, b) => a - b);
    const free = model.free();
    const request = t.ipam.resizeAllocation({ allocationId: id, count: this.count });
    if (current.strategy === "specific" && this.count > 1) {
      await expect(request).rejects.toMatchObject({ code: "INVALID_INPUT" });
    } else if (this.count - held.length > free.length) {
      await expect(request).rejects.toMatchObject({ code: "SUBNET_EXHAUSTED" });
    } else {
      const { allocation, released } = await request;
      const got = offsetsOf(real, allocation.addresses);
      if (this.count < held.length) {
        // Shrinking gives back the highest addresses.
        expect(got).toEqual(held.slice(0, this.count));
        expect(offsetsOf(real, released)).toEqual(held.slice(this.count));
      } else if (current.strategy === "sequential") {
        expect(got).toEqual([...held, ...free.slice(0, this.count - held.length)].sort((a, b) => a - b));
      } else {
        const added = got.filter((o) => !held.includes(o));
        expect(held.every((o) => got.includes(o))).toBe(true);
        expect(added.length).toBe(this.count - held.length);
        expect(added.every((o) => free.includes(o))).toBe(true);
      }
      model.allocations.set(id, { ...current, offsets: got });
    }
    await compare(model, real);
  }
  toString = () => `resize(#${this.pick}, ${this.count})`;
}

class UpdatePools implements Cmd {
  constructor(readonly set: number) {}
  check = () => true;
  async run(model: AllocatorModel, real: Real): Promise<void> {
    const pools = POOL_SETS[this.set]!;
    const result = await t.ipam.updateSubnet(real.subnetId, { allocationPools: poolsFor(real, pools) });
    model.pools = pools;
    const inPools = model.poolOffsets();
    // Addresses the new pools leave out stay allocated and are reported.
    expect(offsetsOf(real, result.allocationsOutsidePools)).toEqual([...model.allocated()].filter((o) => !inPools.has(o)).sort((a, b) => a - b));
    await compare(model, real);
  }
  toString = () => `pools(${JSON.stringify(POOL_SETS[this.set])})`;
}

class UpdateReserved implements Cmd {
  constructor(readonly set: number) {}
  check = () => true;
  async run(model: AllocatorModel, real: Real): Promise<void> {
    const reserved = RESERVED_SETS[this.set]!;
    const request = t.ipam.updateSubnet(real.subnetId, { reserved: reserved.map((o) => address(real, o)) });
    const allocated = model.allocated();
    const blocked = reserved.filter((o) => allocated.has(o)).sort((a, b) => a - b);
    if (blocked.length > 0) {
      const error = await request.catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "CONFLICT", field: "reserved" });
      expect(offsetsOf(real, (error as { addresses: string[] }).addresses)).toEqual(blocked);
    } else {
      await request;
      model.reserved = new Set(reserved);
    }
    await compare(model, real);
  }
  toString = () => `reserved(${JSON.stringify(RESERVED_SETS[this.set])})`;
}

const commands = [
  fc.tuple(fc.constantFrom("sequential" as const, "random" as const), fc.integer({ min: 1, max: 5 })).map(([strategy, count]) => new Allocate(strategy, count)),
  fc.integer({ min: 0, max: 15 }).map((offset) => new AllocateSpecific(offset)),
  fc.nat(50).map((pick) => new Release(pick)),
  fc.tuple(fc.nat(50), fc.integer({ min: 1, max: 5 })).map(([pick, count]) => new Resize(pick, count)),
  fc.integer({ min: 0, max: POOL_SETS.length - 1 }).map((set) => new UpdatePools(set)),
  fc.integer({ min: 0, max: RESERVED_SETS.length - 1 }).map((set) => new UpdateReserved(set)),
];

describe("model-based: random operation sequences against an in-memory model", () => {
  it("after every step the database equals the model (allocations, free index, usage), and every invariant holds at the end", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(4 as const, 6 as const), fc.commands(commands, { maxCommands: 30 }), async (version, cmds) => {
        runs += 1;
        const subnetIds: string[] = [];
        await fc.asyncModelRun(async () => {
          const cidr = parseCidr(CIDR[version], "cidr");
          const model = new AllocatorModel(version);
          const real: Real = { subnetId: "", version, base: cidr.first };
          const subnet = await t.ipam.createSubnet({
            cidr: cidr.text,
            namespace: `model-${runs}`,
            gateway: address(real, GATEWAY),
            reserved: [...model.reserved].map((o) => address(real, o)),
          });
          subnetIds.push(subnet.id);
          return { model, real: { ...real, subnetId: subnet.id } };
        }, cmds);
        expect((await checkInvariants(t.db.url, { subnetIds })).violations).toEqual([]);
      }),
      { numRuns: 40 },
    );
  });
});

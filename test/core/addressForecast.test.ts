import { describe, expect, it } from "vitest";
import { parseAddress, parseCidr } from "../../provider/core/address.js";
import { AddressForecast, firstAlignedBlock, type SubnetSpace } from "../../provider/core/addressForecast.js";
import { subnetEditEffects } from "../../provider/core/subnetEditForecast.js";
import { buildLayout } from "../../provider/core/subnetLayout.js";

// The pure replay behind `ipam preview-report`: the allocator's rules over a copy of a subnet's free space.
const a = (text: string) => parseAddress(text, "address");

function space(): SubnetSpace {
  const layout = buildLayout(parseCidr("10.0.0.0/28", "cidr"), { allocationPools: [{ start: "10.0.0.2", end: "10.0.0.9" }], reserved: ["10.0.0.5"] });
  // .2 and .3 are held by "other"; free: .4, .6-.9
  return {
    key: "s",
    cidr: layout.cidr,
    free: [{ first: a("10.0.0.4").value, last: a("10.0.0.4").value }, { first: a("10.0.0.6").value, last: a("10.0.0.9").value }],
    freeTotal: 5n,
    available: layout.available,
    poolSize: 7n,
    allocated: 2n,
    childrenOnly: false,
    holders: new Map([["10.0.0.2", "other"], ["10.0.0.3", "other"]]),
    childSpace: [{ first: a("10.0.0.10").value, last: a("10.0.0.15").value }],
  };
}

describe("AddressForecast", () => {
  it("takes the lowest free addresses, gives released pool addresses back in order, and counts utilisation", () => {
    const f = new AddressForecast([space()]);
    expect(f.take("s", 2, "sequential", "me")).toEqual({ addresses: ["10.0.0.4", "10.0.0.6"] });
    f.release("s", [a("10.0.0.3"), a("10.0.0.12")], "other"); // .12 is outside the pools: never free again
    expect(f.take("s", 2, "sequential", "me")).toEqual({ addresses: ["10.0.0.3", "10.0.0.7"] });
    expect(f.take("s", 1, "random", "me")).toEqual({ random: 1 });
    expect(f.take("s", 2, "sequential", "me")).toEqual({ code: "SUBNET_EXHAUSTED", subnet: "10.0.0.0/28", wanted: 2, free: "1" });
    expect(f.utilisation()).toEqual([{ key: "s", cidr: "10.0.0.0/28", poolSize: "7", poolSizeBefore: "7", before: "2", after: "5" }]);
  });

  it("a specific address held (also by an earlier step of the plan) names its holder", () => {
    const f = new AddressForecast([space()]);
    expect(f.takeSpecific("s", a("10.0.0.2"), "me")).toEqual({ code: "ADDRESS_IN_USE", subnet: "10.0.0.0/28", address: "10.0.0.2", holder: "other" });
    expect(f.takeSpecific("s", a("10.0.0.8"), "me")).toEqual({ addresses: ["10.0.0.8"] });
    expect(f.takeSpecific("s", a("10.0.0.8"), "you")).toMatchObject({ code: "ADDRESS_IN_USE", holder: "me" });
    expect(f.take("s", 3, "sequential", "me")).toEqual({ addresses: ["10.0.0.4", "10.0.0.6", "10.0.0.7"] });
  });

  it("hold-down: a live hold is skipped by next-free and refused by name to others; its releaser takes it back", () => {
    // .4 is held for "gone" (live); the facts already count expired holds as free, so .6 is next.
    const f = new AddressForecast([{ ...space(), free: [{ first: a("10.0.0.6").value, last: a("10.0.0.9").value }], freeTotal: 4n, holdSeconds: 300, holds: new Map([["10.0.0.4", { owner: "gone", secondsLeft: 120 }]]) }]);
    expect(f.take("s", 1, "sequential", "me")).toEqual({ addresses: ["10.0.0.6"] });
    expect(f.takeSpecific("s", a("10.0.0.4"), "me")).toEqual({ code: "ADDRESS_HELD", subnet: "10.0.0.0/28", address: "10.0.0.4", releasedBy: "gone", secondsLeft: 120 });
    // A release in the plan holds the address for its owner: next-free skips it, its owner may take it back.
    f.release("s", [a("10.0.0.2")], "fallback");
    expect(f.take("s", 1, "sequential", "me")).toEqual({ addresses: ["10.0.0.7"] });
    expect(f.takeSpecific("s", a("10.0.0.2"), "me")).toMatchObject({ code: "ADDRESS_HELD", releasedBy: "other", secondsLeft: 300 });
    expect(f.takeSpecific("s", a("10.0.0.2"), "other")).toEqual({ addresses: ["10.0.0.2"] });
    expect(f.takeSpecific("s", a("10.0.0.4"), "gone")).toEqual({ addresses: ["10.0.0.4"] });
    expect(f.take("s", 3, "sequential", "me")).toEqual({ code: "SUBNET_EXHAUSTED", subnet: "10.0.0.0/28", wanted: 3, free: "2" });
  });

  it("carves child blocks first-fit and aligned, and reports when none is left", () => {
    const f = new AddressForecast([space()]);
    expect(f.carve("s", 30)).toMatchObject({ text: "10.0.0.12/30" });
    expect(f.carve("s", 31)).toMatchObject({ text: "10.0.0.10/31" });
    expect(f.carve("s", 30)).toEqual({ code: "SUBNET_EXHAUSTED", subnet: "10.0.0.0/28", prefixLength: 30 });
    expect(firstAlignedBlock(4, { first: 1n, last: 8n }, 30)).toMatchObject({ first: 4n, last: 7n });
  });
});

it("subnetEditEffects: allocations outside the new pools, and gateway or reserved over held addresses", () => {
  const layout = buildLayout(parseCidr("10.0.0.0/28", "cidr"), { allocationPools: [{ start: "10.0.0.2", end: "10.0.0.5" }], reserved: ["10.0.0.3"], gateway: "10.0.0.9" });
  const effects = subnetEditEffects(layout, [{ id: "1", owner: "p/s/web", values: [a("10.0.0.3").value, a("10.0.0.9").value, a("10.0.0.12").value] }]);
  expect(effects.blocked).toEqual([
    { address: "10.0.0.3", owner: "p/s/web", field: "reserved" },
    { address: "10.0.0.9", owner: "p/s/web", field: "gateway" },
  ]);
  expect(effects.outsidePools.map((h) => h.address)).toEqual(["10.0.0.9", "10.0.0.12"]);
  expect(effects.free).toEqual([{ first: a("10.0.0.2").value, last: a("10.0.0.2").value }, { first: a("10.0.0.4").value, last: a("10.0.0.5").value }]);
});

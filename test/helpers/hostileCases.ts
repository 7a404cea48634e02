import type { Ipam } from "../../provider/store/index.js";

/**
 * The hand-written hostile inputs (issue 5 point 5), as data: each names an Ipam method, its
 * arguments against a fixture, and the field its INVALID_INPUT must name. The core test calls the
 * methods directly; the provider test replays the createSubnet and allocate ones as resource inputs.
 */
export interface HostileCase {
  readonly what: string;
  readonly method: HostileMethod;
  readonly args: (fixture: HostileFixture) => unknown[];
  /** The error must name this field, or one under it (tags.<key>, reserved.<n>). */
  readonly field: string;
}

/** What the cases run against: see createHostileFixture. */
export interface HostileFixture {
  readonly subnetId: string;
  /** Two sequential addresses. */
  readonly allocationId: string;
  /** 10.0.0.99, a specific address. */
  readonly specificId: string;
}

type HostileMethod =
  | "createSubnet" | "allocate" | "resizeAllocation" | "release" | "getSubnet" | "getAllocation" | "usage" | "whoHolds"
  | "updateSubnet" | "updateAllocation" | "listSubnets" | "listAllocations" | "findAllocationByKey";

/** 10.0.0.0/24 with gateway 10.0.0.1 and 10.0.0.128/28 reserved; cases refer to these addresses. */
export async function createHostileFixture(ipam: Ipam, owner = "hostile/base"): Promise<HostileFixture> {
  const subnetId = (await ipam.createSubnet({ cidr: "10.0.0.0/24", gateway: "10.0.0.1", reserved: ["10.0.0.128/28"] })).id;
  const allocationId = (await ipam.allocate({ subnetId, owner, count: 2 })).allocation.id;
  const specificId = (await ipam.allocate({ subnetId, owner, address: "10.0.0.99" })).allocation.id;
  return { subnetId, allocationId, specificId };
}

/** Call the case's method on `ipam` (wrongly typed arguments are the point). */
export function runHostileCase(ipam: Ipam, hostile: HostileCase, fixture: HostileFixture): Promise<unknown> {
  const method = ipam[hostile.method] as (...args: unknown[]) => Promise<unknown>;
  return method.apply(ipam, hostile.args(fixture));
}

const any = (value: unknown) => value as never;
const long = (n: number, unit = "x") => unit.repeat(n);

type Row = [string, HostileMethod, (fixture: HostileFixture) => unknown[], string];

const rows = (): Row[] => [
  // CIDRs
  ["leading-zero IPv4 CIDR", "createSubnet", (_f) => [{ cidr: "010.0.0.0/24" }], "cidr"],
  ["CIDR with host bits", "createSubnet", (_f) => [{ cidr: "10.1.0.1/24" }], "cidr"],
  ["IPv4 /0", "createSubnet", (_f) => [{ cidr: "0.0.0.0/0" }], "cidr"],
  ["IPv6 /0", "createSubnet", (_f) => [{ cidr: "::/0" }], "cidr"],
  ["IPv4-mapped IPv6 CIDR", "createSubnet", (_f) => [{ cidr: "::ffff:10.0.0.0/120" }], "cidr"],
  ["CIDR with a zone id", "createSubnet", (_f) => [{ cidr: "fe80::%eth0/64" }], "cidr"],
  ["CIDR with SQL after it", "createSubnet", (_f) => [{ cidr: "10.2.0.0/24; DROP TABLE ipam.subnet; --" }], "cidr"],
  ["CIDR with a leading-zero prefix", "createSubnet", (_f) => [{ cidr: "10.3.0.0/024" }], "cidr"],
  ["CIDR with whitespace", "createSubnet", (_f) => [{ cidr: " 10.4.0.0/24" }], "cidr"],
  ["CIDR of 100,000 characters", "createSubnet", (_f) => [{ cidr: long(100_000, "1") }], "cidr"],
  ["CIDR as a number", "createSubnet", (_f) => [{ cidr: any(167772160) }], "cidr"],
  ["CIDR missing", "createSubnet", (_f) => [any({})], "cidr"],
  ["CIDR as NaN", "createSubnet", (_f) => [{ cidr: any(Number.NaN) }], "cidr"],
  // Subnet fields
  ["namespace with SQL", "createSubnet", (_f) => [{ cidr: "10.5.0.0/24", namespace: "prod'; DROP TABLE ipam.subnet; --" }], "namespace"],
  ["namespace in Cyrillic", "createSubnet", (_f) => [{ cidr: "10.5.0.0/24", namespace: "продакшн" }], "namespace"],
  ["namespace of 64 characters", "createSubnet", (_f) => [{ cidr: "10.5.0.0/24", namespace: long(64, "a") }], "namespace"],
  ["empty namespace", "createSubnet", (_f) => [{ cidr: "10.5.0.0/24", namespace: "" }], "namespace"],
  ["description of 1,025 characters", "createSubnet", (_f) => [{ cidr: "10.5.0.0/24", description: long(1025) }], "description"],
  ["description with NUL", "createSubnet", (_f) => [{ cidr: "10.5.0.0/24", description: "a\u0000b" }], "description"],
  ["description with an unpaired surrogate", "createSubnet", (_f) => [{ cidr: "10.5.0.0/24", description: "a\uD800b" }], "description"],
  ["tag value with an unpaired surrogate", "createSubnet", (_f) => [{ cidr: "10.5.0.0/24", tags: { k: "\uDC00" } }], "tags"],
  // Echoed in the field path: a malformed message once made the provider host's gRPC status throw, and the call hung.
  ["tag key with an unpaired surrogate", "createSubnet", (_f) => [{ cidr: "10.5.0.0/24", tags: { "k\uD800": "x" } }], "tags"],
  ["tag key with NUL", "createSubnet", (_f) => [{ cidr: "10.5.0.0/24", tags: { "a\u0000": "x" } }], "tags"],
  ["tag key __proto__", "createSubnet", (_f) => [{ cidr: "10.5.0.0/24", tags: JSON.parse('{"__proto__": "x"}') }], "tags"],
  ["empty tag key", "createSubnet", (_f) => [{ cidr: "10.5.0.0/24", tags: { "": "x" } }], "tags"],
  ["65 tags", "createSubnet", (_f) => [{ cidr: "10.5.0.0/24", tags: Object.fromEntries(Array.from({ length: 65 }, (_, n) => [`k${n}`, "v"])) }], "tags"],
  ["tag value of 257 characters", "createSubnet", (_f) => [{ cidr: "10.5.0.0/24", tags: { k: long(257) } }], "tags.k"],
  ["tag value as a number", "createSubnet", (_f) => [{ cidr: "10.5.0.0/24", tags: any({ k: 1 }) }], "tags.k"],
  ["tags as an array", "createSubnet", (_f) => [{ cidr: "10.5.0.0/24", tags: any(["a"]) }], "tags"],
  ["leading-zero gateway", "createSubnet", (_f) => [{ cidr: "10.5.0.0/24", gateway: "10.5.0.01" }], "gateway"],
  ["gateway outside the subnet", "createSubnet", (_f) => [{ cidr: "10.5.0.0/24", gateway: "10.6.0.1" }], "gateway"],
  ["IPv6 gateway in an IPv4 subnet", "createSubnet", (_f) => [{ cidr: "10.5.0.0/24", gateway: "fd00::1" }], "gateway"],
  ["257 reserved entries", "createSubnet", (_f) => [{ cidr: "10.5.0.0/24", reserved: Array.from({ length: 257 }, () => "10.5.0.5") }], "reserved"],
  ["reserved /33", "createSubnet", (_f) => [{ cidr: "10.5.0.0/24", reserved: ["10.5.0.0/33"] }], "reserved.0"],
  ["reserved outside the subnet", "createSubnet", (_f) => [{ cidr: "10.5.0.0/24", reserved: ["10.9.0.0/28"] }], "reserved.0"],
  ["65 pools", "createSubnet", (_f) => [{ cidr: "10.5.0.0/24", allocationPools: Array.from({ length: 65 }, (_, n) => ({ start: `10.5.0.${n + 2}`, end: `10.5.0.${n + 2}` })) }], "allocationPools"],
  ["pool start after end", "createSubnet", (_f) => [{ cidr: "10.5.0.0/24", allocationPools: [{ start: "10.5.0.9", end: "10.5.0.2" }] }], "allocationPools.0"],
  ["IPv4-mapped pool start", "createSubnet", (_f) => [{ cidr: "10.5.0.0/24", allocationPools: [{ start: "::ffff:10.5.0.5", end: "10.5.0.9" }] }], "allocationPools.0.start"],
  ["pool bounds as numbers", "createSubnet", (_f) => [{ cidr: "10.5.0.0/24", allocationPools: any([{ start: 1, end: 2 }]) }], "allocationPools.0.start"],
  ["unknown field", "createSubnet", (_f) => [any({ cidr: "10.5.0.0/24", evil: "1" })], "input"],
  ["input null", "createSubnet", (_f) => [any(null)], "input"],
  ["input a string", "createSubnet", (_f) => [any("10.5.0.0/24")], "input"],
  // Allocation requests
  ["subnetId with SQL", "allocate", (_f) => [{ subnetId: "1 OR 1=1", owner: "o" }], "subnetId"],
  ["subnetId zero", "allocate", (_f) => [{ subnetId: "0", owner: "o" }], "subnetId"],
  ["negative subnetId", "allocate", (_f) => [{ subnetId: "-1", owner: "o" }], "subnetId"],
  ["subnetId with a leading zero", "allocate", (_f) => [{ subnetId: "01", owner: "o" }], "subnetId"],
  ["subnetId past int4", "allocate", (_f) => [{ subnetId: "2147483648", owner: "o" }], "subnetId"],
  ["subnetId as a number", "allocate", (_f) => [{ subnetId: any(1), owner: "o" }], "subnetId"],
  ["subnetId in exponent form", "allocate", (_f) => [{ subnetId: "1e3", owner: "o" }], "subnetId"],
  ["empty owner", "allocate", (f) => [{ subnetId: f.subnetId, owner: "" }], "owner"],
  ["owner of 257 characters", "allocate", (f) => [{ subnetId: f.subnetId, owner: long(257) }], "owner"],
  ["owner with NUL", "allocate", (f) => [{ subnetId: f.subnetId, owner: "a\u0000" }], "owner"],
  ["owner with an unpaired surrogate", "allocate", (f) => [{ subnetId: f.subnetId, owner: "\uDBFF" }], "owner"],
  ["owner as an object", "allocate", (f) => [{ subnetId: f.subnetId, owner: any({ toString: () => "o" }) }], "owner"],
  ["empty idempotency key", "allocate", (f) => [{ subnetId: f.subnetId, owner: "o", idempotencyKey: "" }], "idempotencyKey"],
  ["idempotency key of 257 characters", "allocate", (f) => [{ subnetId: f.subnetId, owner: "o", idempotencyKey: long(257) }], "idempotencyKey"],
  ["leading-zero address", "allocate", (f) => [{ subnetId: f.subnetId, owner: "o", address: "010.0.0.1" }], "address"],
  ["IPv4-mapped IPv6 address", "allocate", (f) => [{ subnetId: f.subnetId, owner: "o", address: "::ffff:10.0.0.5" }], "address"],
  ["address with a zone id", "allocate", (f) => [{ subnetId: f.subnetId, owner: "o", address: "fe80::1%eth0" }], "address"],
  ["address given as a CIDR", "allocate", (f) => [{ subnetId: f.subnetId, owner: "o", address: "10.0.0.5/32" }], "address"],
  ["address with trailing space", "allocate", (f) => [{ subnetId: f.subnetId, owner: "o", address: "10.0.0.5 " }], "address"],
  ["address as a number", "allocate", (f) => [{ subnetId: f.subnetId, owner: "o", address: any(167772165) }], "address"],
  ["address outside the subnet", "allocate", (f) => [{ subnetId: f.subnetId, owner: "o", address: "10.0.1.5" }], "address"],
  ["the gateway", "allocate", (f) => [{ subnetId: f.subnetId, owner: "o", address: "10.0.0.1" }], "address"],
  ["the network address", "allocate", (f) => [{ subnetId: f.subnetId, owner: "o", address: "10.0.0.0" }], "address"],
  ["the broadcast address", "allocate", (f) => [{ subnetId: f.subnetId, owner: "o", address: "10.0.0.255" }], "address"],
  ["a reserved address", "allocate", (f) => [{ subnetId: f.subnetId, owner: "o", address: "10.0.0.130" }], "address"],
  ["negative count", "allocate", (f) => [{ subnetId: f.subnetId, owner: "o", count: -1 }], "count"],
  ["zero count", "allocate", (f) => [{ subnetId: f.subnetId, owner: "o", count: 0 }], "count"],
  ["fractional count", "allocate", (f) => [{ subnetId: f.subnetId, owner: "o", count: 1.5 }], "count"],
  ["NaN count", "allocate", (f) => [{ subnetId: f.subnetId, owner: "o", count: Number.NaN }], "count"],
  ["infinite count", "allocate", (f) => [{ subnetId: f.subnetId, owner: "o", count: Number.POSITIVE_INFINITY }], "count"],
  ["count 65,537", "allocate", (f) => [{ subnetId: f.subnetId, owner: "o", count: 65_537 }], "count"],
  ["count 2^53", "allocate", (f) => [{ subnetId: f.subnetId, owner: "o", count: 2 ** 53 }], "count"],
  ["count as a string", "allocate", (f) => [{ subnetId: f.subnetId, owner: "o", count: any("3") }], "count"],
  ["count as a bigint", "allocate", (f) => [{ subnetId: f.subnetId, owner: "o", count: any(3n) }], "count"],
  ["count with a specific address", "allocate", (f) => [{ subnetId: f.subnetId, owner: "o", address: "10.0.0.50", count: 2 }], "count"],
  ["random with a specific address", "allocate", (f) => [{ subnetId: f.subnetId, owner: "o", address: "10.0.0.50", strategy: "random" }], "strategy"],
  ["strategy in capitals", "allocate", (f) => [{ subnetId: f.subnetId, owner: "o", strategy: any("RANDOM") }], "strategy"],
  ["allocation tag key with an unpaired surrogate", "allocate", (f) => [{ subnetId: f.subnetId, owner: "o", tags: { "\uDC00": "x" } }], "tags"],
  ["allocation input as an array", "allocate", (f) => [any([f.subnetId, "o"])], "input"],
  // Other methods
  ["resize to zero", "resizeAllocation", (f) => [{ allocationId: f.allocationId, count: 0 }], "count"],
  ["resize to NaN", "resizeAllocation", (f) => [{ allocationId: f.allocationId, count: Number.NaN }], "count"],
  ["resize to a billion", "resizeAllocation", (f) => [{ allocationId: f.allocationId, count: 1e9 }], "count"],
  ["resize a specific allocation to 2", "resizeAllocation", (f) => [{ allocationId: f.specificId, count: 2 }], "count"],
  ["resize with a bad id", "resizeAllocation", (_f) => [{ allocationId: "1; DELETE FROM ipam.allocation", count: 1 }], "allocationId"],
  ["release with SQL", "release", (_f) => ["1; DELETE FROM ipam.allocation"], "allocationId"],
  ["release with a number", "release", (_f) => [any(1)], "allocationId"],
  ["release with an id past bigint", "release", (_f) => ["99999999999999999999"], "allocationId"],
  ["getSubnet with SQL", "getSubnet", (_f) => ["' OR '1'='1"], "subnetId"],
  ["getAllocation with null", "getAllocation", (_f) => [any(null)], "allocationId"],
  ["usage with a float id", "usage", (_f) => ["1.5"], "subnetId"],
  ["whoHolds an impossible address", "whoHolds", (f) => [f.subnetId, "10.0.0.256"], "address"],
  ["update with a bad gateway", "updateSubnet", (f) => [f.subnetId, { gateway: "10.0.0.1.1" }], "gateway"],
  ["update pools with a string", "updateSubnet", (f) => [f.subnetId, { allocationPools: any("10.0.0.0/24") }], "allocationPools"],
  ["update trying to change the CIDR", "updateSubnet", (f) => [f.subnetId, any({ cidr: "10.0.0.0/16" })], "input"],
  ["update with a bad subnet id", "updateSubnet", (_f) => ["abc", {}], "subnetId"],
  ["update with null", "updateSubnet", (f) => [f.subnetId, any(null)], "input"],
  ["update allocation tags with a number", "updateAllocation", (f) => [{ allocationId: f.allocationId, tags: any({ k: 5 }) }], "tags.k"],
  ["update allocation tag key with an unpaired surrogate", "updateAllocation", (f) => [{ allocationId: f.allocationId, tags: { "a\uDBFF": "v" } }], "tags"],
  ["list subnets in a bad namespace", "listSubnets", (_f) => [{ namespace: "a b" }], "namespace"],
  ["list subnets with null", "listSubnets", (_f) => [any(null)], "input"],
  ["list subnets with an unknown filter", "listSubnets", (_f) => [any({ cidr: "10.0.0.0/8" })], "input"],
  ["list allocations of a bad subnet", "listAllocations", (_f) => [{ subnetId: "x" }], "subnetId"],
  ["list allocations of an owner that is an object", "listAllocations", (_f) => [{ owner: any({}) }], "owner"],
  ["list allocations of an owner with NUL", "listAllocations", (_f) => [{ owner: "a\u0000" }], "owner"],
  ["list allocations with null", "listAllocations", (_f) => [any(null)], "input"],
  ["list allocations with page size 0", "listAllocations", (f) => [{ subnetId: f.subnetId }, { limit: 0 }], "limit"],
  ["list allocations with page size NaN", "listAllocations", (f) => [{ subnetId: f.subnetId }, { limit: Number.NaN }], "limit"],
  ["list allocations after -1", "listAllocations", (f) => [{ subnetId: f.subnetId }, { after: "-1" }], "after"],
  ["find by an idempotency key with NUL", "findAllocationByKey", (f) => [f.subnetId, "a\u0000"], "idempotencyKey"],
  ["find by an idempotency key that is an object", "findAllocationByKey", (f) => [f.subnetId, any({})], "idempotencyKey"],
];

export function hostileCases(): HostileCase[] {
  return rows().map(([what, method, args, field]) => ({ what, method, args, field }));
}

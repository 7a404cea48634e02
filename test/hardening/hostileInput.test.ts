import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IpamError, InvalidInputError } from "../../provider/core/errors.js";
import { Ipam } from "../../provider/store/index.js";
import { databaseFingerprint } from "../helpers/databaseFingerprint.js";
import { checkInvariants } from "../helpers/invariants.js";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.js";

let db: TestDatabase;
let ipam: Ipam;
let admin: pg.Client;
let subnetId: string;
let allocationId: string;
let specificId: string;

beforeAll(async () => {
  db = await createTestDatabase("hostile");
  ipam = await Ipam.open({ databaseUrl: db.url });
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  subnetId = (await ipam.createSubnet({ cidr: "10.0.0.0/24", gateway: "10.0.0.1", reserved: ["10.0.0.128/28"] })).id;
  allocationId = (await ipam.allocate({ subnetId, owner: "hostile/base", count: 2 })).allocation.id;
  specificId = (await ipam.allocate({ subnetId, owner: "hostile/base", address: "10.0.0.99" })).allocation.id;
});
afterAll(async () => {
  await admin?.end();
  await ipam?.close();
  await db?.drop();
});

const any = (value: unknown) => value as never;
const long = (n: number, unit = "x") => unit.repeat(n);

/** [what, the call, the field the error must name] */
type Case = [string, (ipam: Ipam) => Promise<unknown>, string];

const cases = (): Case[] => [
  // CIDRs
  ["leading-zero IPv4 CIDR", (i) => i.createSubnet({ cidr: "010.0.0.0/24" }), "cidr"],
  ["CIDR with host bits", (i) => i.createSubnet({ cidr: "10.1.0.1/24" }), "cidr"],
  ["IPv4 /0", (i) => i.createSubnet({ cidr: "0.0.0.0/0" }), "cidr"],
  ["IPv6 /0", (i) => i.createSubnet({ cidr: "::/0" }), "cidr"],
  ["IPv4-mapped IPv6 CIDR", (i) => i.createSubnet({ cidr: "::ffff:10.0.0.0/120" }), "cidr"],
  ["CIDR with a zone id", (i) => i.createSubnet({ cidr: "fe80::%eth0/64" }), "cidr"],
  ["CIDR with SQL after it", (i) => i.createSubnet({ cidr: "10.2.0.0/24; DROP TABLE ipam.subnet; --" }), "cidr"],
  ["CIDR with a leading-zero prefix", (i) => i.createSubnet({ cidr: "10.3.0.0/024" }), "cidr"],
  ["CIDR with whitespace", (i) => i.createSubnet({ cidr: " 10.4.0.0/24" }), "cidr"],
  ["CIDR of 100,000 characters", (i) => i.createSubnet({ cidr: long(100_000, "1") }), "cidr"],
  ["CIDR as a number", (i) => i.createSubnet({ cidr: any(167772160) }), "cidr"],
  ["CIDR missing", (i) => i.createSubnet(any({})), "cidr"],
  ["CIDR as NaN", (i) => i.createSubnet({ cidr: any(Number.NaN) }), "cidr"],
  // Subnet fields
  ["namespace with SQL", (i) => i.createSubnet({ cidr: "10.5.0.0/24", namespace: "prod'; DROP TABLE ipam.subnet; --" }), "namespace"],
  ["namespace in Cyrillic", (i) => i.createSubnet({ cidr: "10.5.0.0/24", namespace: "продакшн" }), "namespace"],
  ["namespace of 64 characters", (i) => i.createSubnet({ cidr: "10.5.0.0/24", namespace: long(64, "a") }), "namespace"],
  ["empty namespace", (i) => i.createSubnet({ cidr: "10.5.0.0/24", namespace: "" }), "namespace"],
  ["description of 1,025 characters", (i) => i.createSubnet({ cidr: "10.5.0.0/24", description: long(1025) }), "description"],
  ["description with NUL", (i) => i.createSubnet({ cidr: "10.5.0.0/24", description: "a\u0000b" }), "description"],
  ["description with an unpaired surrogate", (i) => i.createSubnet({ cidr: "10.5.0.0/24", description: "a\uD800b" }), "description"],
  ["tag value with an unpaired surrogate", (i) => i.createSubnet({ cidr: "10.5.0.0/24", tags: { k: "\uDC00" } }), "tags"],
  ["tag key with NUL", (i) => i.createSubnet({ cidr: "10.5.0.0/24", tags: { "a\u0000": "x" } }), "tags"],
  ["tag key __proto__", (i) => i.createSubnet({ cidr: "10.5.0.0/24", tags: JSON.parse('{"__proto__": "x"}') }), "tags"],
  ["empty tag key", (i) => i.createSubnet({ cidr: "10.5.0.0/24", tags: { "": "x" } }), "tags"],
  ["65 tags", (i) => i.createSubnet({ cidr: "10.5.0.0/24", tags: Object.fromEntries(Array.from({ length: 65 }, (_, n) => [`k${n}`, "v"])) }), "tags"],
  ["tag value of 257 characters", (i) => i.createSubnet({ cidr: "10.5.0.0/24", tags: { k: long(257) } }), "tags.k"],
  ["tag value as a number", (i) => i.createSubnet({ cidr: "10.5.0.0/24", tags: any({ k: 1 }) }), "tags.k"],
  ["tags as an array", (i) => i.createSubnet({ cidr: "10.5.0.0/24", tags: any(["a"]) }), "tags"],
  ["leading-zero gateway", (i) => i.createSubnet({ cidr: "10.5.0.0/24", gateway: "10.5.0.01" }), "gateway"],
  ["gateway outside the subnet", (i) => i.createSubnet({ cidr: "10.5.0.0/24", gateway: "10.6.0.1" }), "gateway"],
  ["IPv6 gateway in an IPv4 subnet", (i) => i.createSubnet({ cidr: "10.5.0.0/24", gateway: "fd00::1" }), "gateway"],
  ["257 reserved entries", (i) => i.createSubnet({ cidr: "10.5.0.0/24", reserved: Array.from({ length: 257 }, () => "10.5.0.5") }), "reserved"],
  ["reserved /33", (i) => i.createSubnet({ cidr: "10.5.0.0/24", reserved: ["10.5.0.0/33"] }), "reserved.0"],
  ["reserved outside the subnet", (i) => i.createSubnet({ cidr: "10.5.0.0/24", reserved: ["10.9.0.0/28"] }), "reserved.0"],
  ["65 pools", (i) => i.createSubnet({ cidr: "10.5.0.0/24", allocationPools: Array.from({ length: 65 }, (_, n) => ({ start: `10.5.0.${n + 2}`, end: `10.5.0.${n + 2}` })) }), "allocationPools"],
  ["pool start after end", (i) => i.createSubnet({ cidr: "10.5.0.0/24", allocationPools: [{ start: "10.5.0.9", end: "10.5.0.2" }] }), "allocationPools.0"],
  ["IPv4-mapped pool start", (i) => i.createSubnet({ cidr: "10.5.0.0/24", allocationPools: [{ start: "::ffff:10.5.0.5", end: "10.5.0.9" }] }), "allocationPools.0.start"],
  ["pool bounds as numbers", (i) => i.createSubnet({ cidr: "10.5.0.0/24", allocationPools: any([{ start: 1, end: 2 }]) }), "allocationPools.0.start"],
  ["unknown field", (i) => i.createSubnet(any({ cidr: "10.5.0.0/24", evil: "1" })), "input"],
  ["input null", (i) => i.createSubnet(any(null)), "input"],
  ["input a string", (i) => i.createSubnet(any("10.5.0.0/24")), "input"],
  // Allocation requests
  ["subnetId with SQL", (i) => i.allocate({ subnetId: "1 OR 1=1", owner: "o" }), "subnetId"],
  ["subnetId zero", (i) => i.allocate({ subnetId: "0", owner: "o" }), "subnetId"],
  ["negative subnetId", (i) => i.allocate({ subnetId: "-1", owner: "o" }), "subnetId"],
  ["subnetId with a leading zero", (i) => i.allocate({ subnetId: "01", owner: "o" }), "subnetId"],
  ["subnetId past int4", (i) => i.allocate({ subnetId: "2147483648", owner: "o" }), "subnetId"],
  ["subnetId as a number", (i) => i.allocate({ subnetId: any(1), owner: "o" }), "subnetId"],
  ["subnetId in exponent form", (i) => i.allocate({ subnetId: "1e3", owner: "o" }), "subnetId"],
  ["empty owner", (i) => i.allocate({ subnetId, owner: "" }), "owner"],
  ["owner of 257 characters", (i) => i.allocate({ subnetId, owner: long(257) }), "owner"],
  ["owner with NUL", (i) => i.allocate({ subnetId, owner: "a\u0000" }), "owner"],
  ["owner with an unpaired surrogate", (i) => i.allocate({ subnetId, owner: "\uDBFF" }), "owner"],
  ["owner as an object", (i) => i.allocate({ subnetId, owner: any({ toString: () => "o" }) }), "owner"],
  ["empty idempotency key", (i) => i.allocate({ subnetId, owner: "o", idempotencyKey: "" }), "idempotencyKey"],
  ["idempotency key of 257 characters", (i) => i.allocate({ subnetId, owner: "o", idempotencyKey: long(257) }), "idempotencyKey"],
  ["leading-zero address", (i) => i.allocate({ subnetId, owner: "o", address: "010.0.0.1" }), "address"],
  ["IPv4-mapped IPv6 address", (i) => i.allocate({ subnetId, owner: "o", address: "::ffff:10.0.0.5" }), "address"],
  ["address with a zone id", (i) => i.allocate({ subnetId, owner: "o", address: "fe80::1%eth0" }), "address"],
  ["address given as a CIDR", (i) => i.allocate({ subnetId, owner: "o", address: "10.0.0.5/32" }), "address"],
  ["address with trailing space", (i) => i.allocate({ subnetId, owner: "o", address: "10.0.0.5 " }), "address"],
  ["address as a number", (i) => i.allocate({ subnetId, owner: "o", address: any(167772165) }), "address"],
  ["address outside the subnet", (i) => i.allocate({ subnetId, owner: "o", address: "10.0.1.5" }), "address"],
  ["the gateway", (i) => i.allocate({ subnetId, owner: "o", address: "10.0.0.1" }), "address"],
  ["the network address", (i) => i.allocate({ subnetId, owner: "o", address: "10.0.0.0" }), "address"],
  ["the broadcast address", (i) => i.allocate({ subnetId, owner: "o", address: "10.0.0.255" }), "address"],
  ["a reserved address", (i) => i.allocate({ subnetId, owner: "o", address: "10.0.0.130" }), "address"],
  ["negative count", (i) => i.allocate({ subnetId, owner: "o", count: -1 }), "count"],
  ["zero count", (i) => i.allocate({ subnetId, owner: "o", count: 0 }), "count"],
  ["fractional count", (i) => i.allocate({ subnetId, owner: "o", count: 1.5 }), "count"],
  ["NaN count", (i) => i.allocate({ subnetId, owner: "o", count: Number.NaN }), "count"],
  ["infinite count", (i) => i.allocate({ subnetId, owner: "o", count: Number.POSITIVE_INFINITY }), "count"],
  ["count 65,537", (i) => i.allocate({ subnetId, owner: "o", count: 65_537 }), "count"],
  ["count 2^53", (i) => i.allocate({ subnetId, owner: "o", count: 2 ** 53 }), "count"],
  ["count as a string", (i) => i.allocate({ subnetId, owner: "o", count: any("3") }), "count"],
  ["count as a bigint", (i) => i.allocate({ subnetId, owner: "o", count: any(3n) }), "count"],
  ["count with a specific address", (i) => i.allocate({ subnetId, owner: "o", address: "10.0.0.50", count: 2 }), "count"],
  ["random with a specific address", (i) => i.allocate({ subnetId, owner: "o", address: "10.0.0.50", strategy: "random" }), "strategy"],
  ["strategy in capitals", (i) => i.allocate({ subnetId, owner: "o", strategy: any("RANDOM") }), "strategy"],
  ["allocation input as an array", (i) => i.allocate(any([subnetId, "o"])), "input"],
  // Other methods
  ["resize to zero", (i) => i.resizeAllocation({ allocationId, count: 0 }), "count"],
  ["resize to NaN", (i) => i.resizeAllocation({ allocationId, count: Number.NaN }), "count"],
  ["resize to a billion", (i) => i.resizeAllocation({ allocationId, count: 1e9 }), "count"],
  ["resize a specific allocation to 2", (i) => i.resizeAllocation({ allocationId: specificId, count: 2 }), "count"],
  ["resize with a bad id", (i) => i.resizeAllocation({ allocationId: "1; DELETE FROM ipam.allocation", count: 1 }), "allocationId"],
  ["release with SQL", (i) => i.release("1; DELETE FROM ipam.allocation"), "allocationId"],
  ["release with a number", (i) => i.release(any(1)), "allocationId"],
  ["release with an id past bigint", (i) => i.release("99999999999999999999"), "allocationId"],
  ["getSubnet with SQL", (i) => i.getSubnet("' OR '1'='1"), "subnetId"],
  ["getAllocation with null", (i) => i.getAllocation(any(null)), "allocationId"],
  ["usage with a float id", (i) => i.usage("1.5"), "subnetId"],
  ["whoHolds an impossible address", (i) => i.whoHolds(subnetId, "10.0.0.256"), "address"],
  ["update with a bad gateway", (i) => i.updateSubnet(subnetId, { gateway: "10.0.0.1.1" }), "gateway"],
  ["update pools with a string", (i) => i.updateSubnet(subnetId, { allocationPools: any("10.0.0.0/24") }), "allocationPools"],
  ["update trying to change the CIDR", (i) => i.updateSubnet(subnetId, any({ cidr: "10.0.0.0/16" })), "input"],
  ["update with a bad subnet id", (i) => i.updateSubnet("abc", {}), "subnetId"],
  ["update with null", (i) => i.updateSubnet(subnetId, any(null)), "input"],
  ["update allocation tags with a number", (i) => i.updateAllocation({ allocationId, tags: any({ k: 5 }) }), "tags.k"],
  ["list subnets in a bad namespace", (i) => i.listSubnets({ namespace: "a b" }), "namespace"],
  ["list subnets with null", (i) => i.listSubnets(any(null)), "input"],
  ["list subnets with an unknown filter", (i) => i.listSubnets(any({ cidr: "10.0.0.0/8" })), "input"],
  ["list allocations of a bad subnet", (i) => i.listAllocations({ subnetId: "x" }), "subnetId"],
  ["list allocations of an owner that is an object", (i) => i.listAllocations({ owner: any({}) }), "owner"],
  ["list allocations of an owner with NUL", (i) => i.listAllocations({ owner: "a\u0000" }), "owner"],
  ["list allocations with null", (i) => i.listAllocations(any(null)), "input"],
  ["list allocations with page size 0", (i) => i.listAllocations({ subnetId }, { limit: 0 }), "limit"],
  ["list allocations with page size NaN", (i) => i.listAllocations({ subnetId }, { limit: Number.NaN }), "limit"],
  ["list allocations after -1", (i) => i.listAllocations({ subnetId }, { after: "-1" }), "after"],
  ["find by an idempotency key with NUL", (i) => i.findAllocationByKey(subnetId, "a\u0000"), "idempotencyKey"],
  ["find by an idempotency key that is an object", (i) => i.findAllocationByKey(subnetId, any({})), "idempotencyKey"],
];

describe("hostile input: each gets INVALID_INPUT naming the field, nothing is written, nothing crashes", () => {
  it.each(cases().map(([what, call, field]) => ({ what, call, field })))("$what → $field", async ({ call, field }) => {
    const before = await databaseFingerprint(admin);
    const error = await call(ipam).then(
      (value) => ({ unexpectedSuccess: value }),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidInputError);
    const { issues, message, code } = error as InvalidInputError;
    expect(code).toBe("INVALID_INPUT");
    // Tag keys are part of the path (tags.<key>), so a field matches itself or anything under it.
    const named = issues.map((issue) => issue.field).filter((name) => name === field || name.startsWith(`${field}.`));
    expect(named, JSON.stringify(issues)).not.toEqual([]);
    expect(message).toContain(`${named[0]}: `);
    expect(message.length).toBeLessThan(2_000); // a 100,000-character input is not echoed back
    expect(await databaseFingerprint(admin)).toEqual(before);
  });

  it("the allocator still works afterwards and every invariant holds", async () => {
    const { allocation } = await ipam.allocate({ subnetId, owner: "after-hostile" });
    expect(allocation.addresses).toHaveLength(1);
    expect((await checkInvariants(db.url)).violations).toEqual([]);
  });
});

describe("text that only looks hostile is stored and returned exactly as given", () => {
  const texts = [
    "'); DROP TABLE ipam.subnet; --",
    "$1 $$ \\' \\\\ %s %n {{7*7}} ${process.env} `rm -rf`",
    "😀 👩‍👩‍👧 \u202Eevil\u202C Ω≈ç√∫ 日本語 e\u0301",
    "line\r\nbreak\ttab \u001b[31mred\u001b[0m",
    "<script>alert(1)</script>",
  ];

  it.each(texts)("description, tags, owner and idempotency key: %j", async (text) => {
    const namespace = `verbatim-${texts.indexOf(text)}`;
    const tags = { [text.slice(0, 100)]: text.slice(0, 200), constructor: "c", toString: "t" };
    const subnet = await ipam.createSubnet({ cidr: "10.200.0.0/29", namespace, description: text, tags });
    expect((await ipam.getSubnet(subnet.id)).description).toBe(text);
    expect((await ipam.getSubnet(subnet.id)).tags).toEqual(tags);
    const { allocation } = await ipam.allocate({ subnetId: subnet.id, owner: text.slice(0, 256), idempotencyKey: text.slice(0, 256), description: text, tags });
    const stored = await ipam.getAllocation(allocation.id);
    expect({ owner: stored.owner, key: stored.idempotencyKey, description: stored.description, tags: stored.tags }).toEqual({
      owner: text.slice(0, 256),
      key: text.slice(0, 256),
      description: text,
      tags,
    });
    expect((await ipam.findAllocationByKey(subnet.id, text.slice(0, 256)))?.id).toBe(allocation.id);
    expect((await ipam.listAllocations({ owner: text.slice(0, 256) })).allocations.map((a) => a.id)).toEqual([allocation.id]);
    const audit = await admin.query<{ owner: string }>("SELECT owner FROM ipam.audit_event WHERE allocation_id = $1", [allocation.id]);
    expect(audit.rows.map((row) => row.owner)).toEqual([text.slice(0, 256)]);
    expect(await admin.query("SELECT 1 FROM ipam.subnet LIMIT 1")).toMatchObject({ rowCount: 1 }); // still there
  });
});

describe("every failure is an IpamError", () => {
  it("not-found and conflicts are typed too", async () => {
    await expect(ipam.getSubnet("2147483647")).rejects.toBeInstanceOf(IpamError);
    await expect(ipam.allocate({ subnetId: "2147483647", owner: "o" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(ipam.allocate({ subnetId, owner: "o", address: "10.0.0.99" })).rejects.toMatchObject({ code: "ADDRESS_IN_USE" });
  });
});

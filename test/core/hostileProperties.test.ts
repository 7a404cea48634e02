import { isIP } from "node:net";
import fc from "fast-check";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADDRESS_BITS, formatAddress, MIN_PREFIX_LENGTH, parseAddress, parseCidr } from "../../provider/core/address.js";
import { IpamError, InvalidInputError } from "../../provider/core/errors.js";
import { Ipam } from "../../provider/store/index.js";
import { databaseFingerprint } from "../helpers/databaseFingerprint.js";
import { allocateRequest, either, junk, SUBNET_PLACEHOLDER, subnetRequest, tags, text, trap } from "../helpers/hostileArbitraries.js";
import { checkInvariants } from "../helpers/invariants.js";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.js";

const MAPPED_FIRST = 0xffff_0000_0000n;
const MAPPED_LAST = 0xffff_ffff_ffffn;

function expectOnlyInputOrTypedErrors(outcome: unknown, allowed: readonly string[], roots: readonly string[]): void {
  if (!(outcome instanceof Error)) return;
  expect(outcome, String(outcome)).toBeInstanceOf(IpamError);
  expect(allowed, `${(outcome as IpamError).code}: ${outcome.message}`).toContain((outcome as IpamError).code);
  if (outcome instanceof InvalidInputError) {
    expect(outcome.issues.length).toBeGreaterThan(0);
    for (const issue of outcome.issues) {
      expect([...roots, "input"], outcome.message).toContain(issue.field.split(".")[0]);
      expect(outcome.message).toContain(`${issue.field}: `);
    }
    expect(outcome.message.length).toBeLessThan(20_000);
    expect(outcome.message).not.toMatch(/\p{Surrogate}/u);
  }
}

describe("core parsers against an independent oracle (node:net)", () => {
  const candidates = fc.oneof(
    fc.ipV4(),
    fc.ipV4Extended(),
    fc.ipV6(),
    fc.string({ unit: "binary-ascii", maxLength: 50 }),
    fc.stringMatching(/^[0-9a-fA-F:.%/x ]{0,45}$/),
    fc.tuple(fc.ipV6(), fc.constantFrom("%eth0", "%1", " ", "\n", ":", ".1")).map(([a, b]) => a + b),
  );

  it("parseAddress accepts exactly what node:net accepts, minus zone ids and IPv4-mapped IPv6, and returns the canonical form", () => {
    fc.assert(
      fc.property(candidates, (input) => {
        let parsed;
        try {
          parsed = parseAddress(input, "address");
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidInputError);
          expect((error as InvalidInputError).issues.map((issue) => issue.field)).toEqual(["address"]);
          const mapped = isIP(input) === 6 && !input.includes("%") && isMapped(input);
          expect(isIP(input) === 0 || input.includes("%") || mapped, `${JSON.stringify(input)} was refused`).toBe(true);
          return;
        }
        expect(isIP(input)).toBe(parsed.version);
        expect(parseAddress(parsed.text, "again").text).toBe(parsed.text);
        if (parsed.version === 4) expect(parsed.text).toBe(input);
        else expect(parsed.text).toBe(canonicalV6(input));
      }),
      { numRuns: 3_000 },
    );
  });

  it("parseCidr accepts a prefix only in range and with every host bit clear, and never masks silently", () => {
    const cidr = fc.tuple(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: -1, max: 130 }), fc.boolean());
    fc.assert(
      fc.property(cidr, ([address, prefix, mask]) => {
        const version = isIP(address) as 4 | 6;
        const bits = ADDRESS_BITS[version];
        let value = version === 4 || !isMapped(address) ? parseAddress(address, "a").value : null;
        if (value !== null && mask && prefix >= 0 && prefix <= bits) value = (value >> BigInt(bits - prefix)) << BigInt(bits - prefix);
        const text = `${value === null || !mask ? address : formatAddress(version, value)}/${prefix}`;
        const hostBitsClear = value !== null && prefix >= 0 && prefix <= bits && value % (1n << BigInt(bits - prefix)) === 0n;
        const inRange = prefix >= MIN_PREFIX_LENGTH[version] && prefix <= bits;
        const size = 1n << BigInt(Math.max(0, bits - Math.max(prefix, 0)));
        const touchesMapped = version === 6 && value !== null && value <= MAPPED_LAST && value + size - 1n >= MAPPED_FIRST && prefix > 80;
        const outcome = (() => {
          try {
            return parseCidr(text, "cidr");
          } catch (error) {
            expect(error).toBeInstanceOf(InvalidInputError);
            expect((error as InvalidInputError).issues.map((issue) => issue.field)).toEqual(["cidr"]);
            return null;
          }
        })();
        expect(outcome !== null, text).toBe(value !== null && hostBitsClear && inRange && !touchesMapped);
        if (outcome !== null) {
          expect(outcome.first).toBe(value);
          expect(outcome.size).toBe(size);
          expect(parseCidr(outcome.text, "cidr").text).toBe(outcome.text);
        }
      }),
      { numRuns: 3_000 },
    );
  });
});

/** RFC 5952 text from the WHATWG URL serializer: an oracle independent of ip-num. */
function canonicalV6(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

/** ::ffff:a.b.c.d, whatever way it was written. */
function isMapped(address: string): boolean {
  return /^::ffff:[0-9a-f]{1,4}:[0-9a-f]{1,4}$/.test(canonicalV6(address));
}

describe("Ipam methods under random hostile input", () => {
  let db: TestDatabase;
  let ipam: Ipam;
  let admin: pg.Client;
  let subnetId: string;
  let allocationId: string;

  beforeAll(async () => {
    db = await createTestDatabase("hostileprops");
    ipam = await Ipam.open({ databaseUrl: db.url });
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    subnetId = (await ipam.createSubnet({ cidr: "10.0.0.0/22", gateway: "10.0.0.1", reserved: ["10.0.1.0/28"] })).id;
    allocationId = (await ipam.allocate({ subnetId, owner: "fixture", count: 3 })).allocation.id;
  });
  afterAll(async () => {
    await admin?.end();
    await ipam?.close();
    await db?.drop();
  });

  /** Run `call`; a rejection must be typed and allowed, and an invalid input must change nothing. */
  async function probe(call: () => Promise<unknown>, allowed: readonly string[], roots: readonly string[]): Promise<unknown> {
    const before = await databaseFingerprint(admin);
    const outcome = await call().catch((error: unknown) => error);
    expectOnlyInputOrTypedErrors(outcome, allowed, roots);
    if (outcome instanceof InvalidInputError) expect(await databaseFingerprint(admin)).toEqual(before);
    return outcome instanceof Error ? undefined : outcome;
  }

  const ALLOCATE_FIELDS = ["subnetId", "owner", "idempotencyKey", "address", "count", "strategy", "description", "tags"];

  it("allocate", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(allocateRequest, junk), async (request) => {
        const real = request !== null && typeof request === "object" && (request as { subnetId?: unknown }).subnetId === SUBNET_PLACEHOLDER ? { ...request, subnetId } : request;
        const result = await probe(() => ipam.allocate(real as never), ["INVALID_INPUT", "NOT_FOUND", "ADDRESS_IN_USE", "SUBNET_EXHAUSTED", "IDEMPOTENCY_MISMATCH"], ALLOCATE_FIELDS);
        // Whatever was accepted is stored exactly as given, never silently altered.
        if (result !== undefined && (result as { created: boolean }).created) {
          const sent = real as { owner: string; description?: string; tags?: Record<string, string> };
          const stored = await ipam.getAllocation((result as { allocation: { id: string } }).allocation.id);
          expect({ owner: stored.owner, description: stored.description, tags: stored.tags }).toEqual({
            owner: sent.owner,
            description: sent.description ?? "",
            tags: sent.tags ?? {},
          });
        }
      }),
      { numRuns: 250 },
    );
  });

  it("createSubnet", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(subnetRequest(), junk), async (request) => {
        const result = await probe(() => ipam.createSubnet(request as never), ["INVALID_INPUT", "OVERLAP"], ["cidr", "namespace", "gateway", "allocationPools", "reserved", "description", "tags"]);
        if (result !== undefined) {
          const sent = request as { description?: string; tags?: Record<string, string> };
          const stored = await ipam.getSubnet((result as { id: string }).id);
          expect({ description: stored.description, tags: stored.tags }).toEqual({ description: sent.description ?? "", tags: sent.tags ?? {} });
        }
      }),
      { numRuns: 250 },
    );
  });

  it("updateSubnet", async () => {
    const address = fc.oneof(fc.ipV4(), fc.integer({ min: 0, max: 1023 }).map((n) => `10.0.${n >> 8}.${n & 255}`));
    const patch = fc.record(
      {
        allocationPools: either(fc.option(fc.array(fc.record({ start: either(address), end: either(address) }), { maxLength: 3 }))),
        gateway: either(fc.option(address)),
        reserved: either(fc.array(either(address), { maxLength: 4 })),
        description: either(text),
        tags,
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(either(fc.constant("SUBNET")), fc.oneof(patch, junk), async (id, request) => {
        await probe(
          () => ipam.updateSubnet((id === "SUBNET" ? subnetId : id) as never, request as never),
          ["INVALID_INPUT", "NOT_FOUND", "CONFLICT"],
          ["subnetId", "allocationPools", "gateway", "reserved", "description", "tags"],
        );
      }),
      { numRuns: 200 },
    );
  });

  it("every other method", async () => {
    const id = fc.oneof(fc.constant("REAL"), junk);
    const methods: [string, (a: unknown, b: unknown) => Promise<unknown>, string[]][] = [
      ["getSubnet", (a) => ipam.getSubnet(a as never), ["subnetId"]],
      ["usage", (a) => ipam.usage(a as never), ["subnetId"]],
      ["getAllocation", (a) => ipam.getAllocation(a as never), ["allocationId"]],
      ["release", (a) => ipam.release(a as never), ["allocationId"]],
      ["whoHolds", (a, b) => ipam.whoHolds(a as never, b as never), ["subnetId", "address"]],
      ["findAllocationByKey", (a, b) => ipam.findAllocationByKey(a as never, b as never), ["subnetId", "idempotencyKey"]],
      ["listSubnets", (a) => ipam.listSubnets(a as never), ["namespace"]],
      ["listAllocations", (a, b) => ipam.listAllocations(a as never, b as never), ["subnetId", "owner", "limit", "after"]],
      ["resizeAllocation", (a) => ipam.resizeAllocation(a as never), ["allocationId", "count"]],
      ["updateAllocation", (a) => ipam.updateAllocation(a as never), ["allocationId", "description", "tags"]],
      ["deleteSubnet", (a) => ipam.deleteSubnet(a as never), ["subnetId"]],
      ["history", (a) => ipam.history(a as never), ["subnetId", "address", "owner", "allocationId", "since", "limit", "before"]],
      ["usageReport", (a) => ipam.usageReport(a as never), ["subnetId"]],
      ["usageTreeReport", (a, b) => ipam.usageTreeReport(a as never, b as never), ["subnetId", "limit"]],
      ["subnetMap", (a, b) => ipam.subnetMap(a as never, b as never), ["subnetId", "maxCellBits"]],
      ["exportSnapshot", (a) => ipam.exportSnapshot(a as never), ["namespace"]],
      ["importSnapshot", (a, b) => ipam.importSnapshot(a as never, b as never), ["version", "subnets", "allocations", "exportedAt", "namespace", "snapshot", "format"]],
    ];
    const structured = fc.record({ allocationId: id, subnetId: id, count: either(fc.integer({ min: 1, max: 5 })), owner: either(text), namespace: junk, description: either(text), tags, limit: junk, after: junk }, { requiredKeys: [] });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: methods.length - 1 }), fc.oneof(id, structured), fc.oneof(junk, structured), async (index, a, b) => {
        const [, call, roots] = methods[index]!;
        const real = (value: unknown): unknown => {
          if (value === "REAL") return roots.includes("allocationId") ? allocationId : subnetId;
          if (value !== null && typeof value === "object" && !Array.isArray(value)) {
            const record = value as Record<string, unknown>;
            return { ...record, ...(record.allocationId === "REAL" ? { allocationId } : {}), ...(record.subnetId === "REAL" ? { subnetId } : {}) };
          }
          return value;
        };
        // Deleting or releasing the fixtures would only make later calls NOT_FOUND, which is allowed.
        await probe(() => call(real(a), real(b)), ["INVALID_INPUT", "NOT_FOUND", "SUBNET_IN_USE", "SUBNET_EXHAUSTED", "CONFLICT"], roots);
      }),
      { numRuns: 400 },
    );
  });

  it("adversarial text in otherwise well-formed requests is stored exactly, or refused naming the field", async () => {
    let attempts = 0;
    let stored = 0;
    const target = (await ipam.createSubnet({ cidr: "10.101.0.0/24", namespace: "text" })).id;
    const dict = fc.dictionary(fc.string({ unit: trap, minLength: 1, maxLength: 20 }), fc.string({ unit: trap, maxLength: 40 }), { maxKeys: 5 });
    const words = fc.string({ unit: trap, minLength: 1, maxLength: 40 });
    await fc.assert(
      fc.asyncProperty(words, words, dict, fc.option(words, { nil: undefined }), async (owner, description, tagMap, idempotencyKey) => {
        attempts += 1;
        const subnet = await probe(
          () => ipam.createSubnet({ cidr: "10.100.0.0/24", namespace: `t${attempts}`, description, tags: tagMap }),
          ["INVALID_INPUT"],
          ["description", "tags"],
        );
        if (subnet !== undefined) {
          stored += 1;
          const s1 = await ipam.getSubnet((subnet as { id: string }).id);
          expect([s1.description, s1.tags]).toEqual([description, tagMap]);
        }
        const allocation = await probe(
          () => ipam.allocate({ subnetId: target, owner, description, tags: tagMap, ...(idempotencyKey === undefined ? {} : { idempotencyKey }) }),
          ["INVALID_INPUT", "IDEMPOTENCY_MISMATCH"],
          ALLOCATE_FIELDS,
        );
        if (allocation !== undefined && (allocation as { created: boolean }).created) {
          const a = await ipam.getAllocation((allocation as { allocation: { id: string } }).allocation.id);
          expect([a.owner, a.description, a.tags, a.idempotencyKey]).toEqual([owner, description, tagMap, idempotencyKey ?? null]);
        }
        const updated = await probe(() => ipam.updateSubnet(target, { description, tags: tagMap }), ["INVALID_INPUT"], ["description", "tags"]);
        if (updated !== undefined) {
          const s2 = await ipam.getSubnet(target);
          expect([s2.description, s2.tags]).toEqual([description, tagMap]);
        }
      }),
      { numRuns: 150 },
    );
    expect(stored).toBeGreaterThan(15); // the property did store things, not only refuse them
  });

  it("afterwards every invariant holds", async () => {
    expect((await checkInvariants(db.url)).violations).toEqual([]);
  });
});

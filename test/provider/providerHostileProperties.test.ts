import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ALLOCATION_INPUTS } from "../../provider/dynamic/allocationProvider.js";
import { SUBNET_INPUTS } from "../../provider/dynamic/subnetProvider.js";
import { databaseFingerprint } from "../helpers/databaseFingerprint.js";
import { allocateRequest, SUBNET_PLACEHOLDER, subnetRequest } from "../helpers/hostileArbitraries.js";
import { createHostileFixture, type HostileFixture } from "../helpers/hostileCases.js";
import { checkInvariants } from "../helpers/invariants.js";
import { ciHostEnv, useProviderHost } from "../helpers/providerTestContext.js";
import { urnOf, wireProblem, type Props } from "../../harness/providerHost.js";

let fixture: HostileFixture;
const context = useProviderHost("provhostileprops", { env: ciHostEnv(), prepare: async ({ direct }) => void (fixture = await createHostileFixture(direct)) });

/**
 * Half the runs: the shared hostile request as it is (nearly always refused). The other half: a valid
 * request with one field taken from a hostile one, so acceptances and single-field refusals get exercised.
 */
function hostileOrOneFieldOff(valid: fc.Arbitrary<Props>, hostile: fc.Arbitrary<Props>): fc.Arbitrary<Props> {
  const oneOff = fc.tuple(valid, hostile, fc.nat()).map(([base, bad, pick]) => {
    const keys = Object.keys(bad);
    if (keys.length === 0) return base;
    const key = keys[pick % keys.length]!;
    return { ...base, [key]: bad[key] };
  });
  return fc.oneof(hostile, oneOff);
}

const plainText = fc.string({ maxLength: 20 });
const plainTags = fc.dictionary(fc.string({ minLength: 1, maxLength: 10 }), plainText, { maxKeys: 3 });

/** The engine never sends an undefined input: the key is simply absent. */
function defined(input: Props): Props {
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined));
}

/** The IpamError code a failed RPC carries: guarded() ends every message with it. */
function codeOf(error: unknown): string {
  return /\((\w+)\)$/.exec((error as Error).message)?.[1] ?? `no code in: ${(error as Error).message}`;
}

type Outcome = { failures: { property: string; reason: string }[]; created?: { id: string; properties: Props }; error?: Error };

/**
 * The engine's view of one hostile resource: Check, then Create with the same inputs whatever Check
 * said (the core must validate on its own). Whatever Check refuses, Create refuses too, writing nothing.
 */
async function checkThenCreate(urn: string, props: Props, declared: readonly string[]): Promise<Outcome> {
  const before = await databaseFingerprint(context.admin);
  const { failures } = await context.host.check(urn, {}, props);
  for (const failure of failures) {
    expect([...declared, "input"], failure.reason).toContain(failure.property);
    expect(failure.reason.length).toBeLessThan(20_000);
  }
  const outcome = await context.host.create(urn, props).then(
    (created) => ({ failures, created }),
    (error: Error) => ({ failures, error }),
  );
  if (failures.length > 0) {
    expect(outcome.error, JSON.stringify(failures)).toBeDefined();
    expect(codeOf(outcome.error)).toBe("INVALID_INPUT");
  }
  if (outcome.error !== undefined) {
    expect(outcome.error.message).not.toMatch(/\p{Surrogate}/u);
    expect(await databaseFingerprint(context.admin)).toEqual(before);
  }
  return outcome;
}

describe("random hostile resource inputs through the provider host", () => {
  it("Subnet: Check and Create agree; what Create accepts is stored as given", async () => {
    const valid = fc.record({ cidr: fc.integer({ min: 0, max: 255 }).map((n) => `10.200.${n}.0/24`), description: plainText, tags: plainTags });
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(hostileOrOneFieldOff(valid, subnetRequest() as fc.Arbitrary<Props>), async (request) => {
        const props = { __provider: context.P.subnet, ...defined(request) };
        fc.pre(wireProblem(props) === null);
        const urn = urnOf("ipam:Subnet", "fuzz");
        const outcome = await checkThenCreate(urn, props, SUBNET_INPUTS);
        // Check runs the core's schema and layout rules: after it accepts, only the database can refuse.
        if (outcome.failures.length === 0 && outcome.error !== undefined) expect(codeOf(outcome.error), outcome.error.message).toBe("OVERLAP");
        if (outcome.created !== undefined) {
          accepted += 1;
          const sent = props as { description?: string; tags?: Record<string, string> };
          expect({ description: outcome.created.properties.description, tags: outcome.created.properties.tags }).toEqual({ description: sent.description ?? "", tags: sent.tags ?? {} });
          await context.host.delete(urn, outcome.created.id, outcome.created.properties);
        }
      }),
      { numRuns: 200 },
    );
    expect(accepted).toBeGreaterThan(5); // the property did create subnets, not only refuse them
  });

  it("IpAllocation: Check and Create agree; what Create accepts is stored as given", async () => {
    const validAllocation = fc.record(
      { subnetId: fc.constant(SUBNET_PLACEHOLDER), owner: fc.constant("fuzz/dev/web"), count: fc.integer({ min: 1, max: 3 }), description: plainText, tags: plainTags },
      { requiredKeys: ["subnetId", "owner"] },
    );
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(hostileOrOneFieldOff(validAllocation, allocateRequest as fc.Arbitrary<Props>), async (request) => {
        // The SDK sends the owner as the hidden __owner (always a string); the provider derives the idempotency key.
        const { owner, idempotencyKey: _derived, subnetId, ...rest } = defined(request);
        const props = {
          __provider: context.P.allocation,
          __owner: typeof owner === "string" ? owner : "fuzz/dev/web",
          ...(subnetId === undefined ? {} : { subnetId: subnetId === SUBNET_PLACEHOLDER ? fixture.subnetId : subnetId }),
          ...rest,
        };
        fc.pre(wireProblem(props) === null);
        const urn = urnOf("ipam:IpAllocation", "fuzz");
        const outcome = await checkThenCreate(urn, props, [...ALLOCATE_CHECKED, ...ALLOCATION_INPUTS]);
        if (outcome.failures.length === 0 && outcome.error !== undefined) {
          const code = codeOf(outcome.error);
          expect(["NOT_FOUND", "ADDRESS_IN_USE", "SUBNET_EXHAUSTED", "INVALID_INPUT"], outcome.error.message).toContain(code);
          // Check cannot see the stored subnet (bounds, gateway, reserved) nor a missing owner.
          if (code === "INVALID_INPUT") expect(outcome.error.message).toMatch(/ (address|owner): /);
        }
        if (outcome.created !== undefined) {
          accepted += 1;
          const sent = props as { __owner: string; description?: string; tags?: Record<string, string> };
          const { owner: storedOwner, description, tags } = outcome.created.properties;
          expect({ owner: storedOwner, description, tags }).toEqual({ owner: sent.__owner, description: sent.description ?? "", tags: sent.tags ?? {} });
          await context.host.delete(urn, outcome.created.id, outcome.created.properties);
        }
      }),
      { numRuns: 200 },
    );
    expect(accepted).toBeGreaterThan(5);
  });

  it("afterwards the host is alive and every invariant holds", async () => {
    expect(() => process.kill(context.host.pid, 0)).not.toThrow();
    expect((await checkInvariants(context.db.url)).violations).toEqual([]);
  });
});

/** Check validates the hidden owner and the idempotency key it derives from it, too. */
const ALLOCATE_CHECKED = ["owner", "idempotencyKey", "adopt"];

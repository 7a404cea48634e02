import { describe, expect, it } from "vitest";
import { parseCidr } from "../../provider/core/address.js";
import { InvalidInputError } from "../../provider/core/errors.js";
import { allowedChildPrefixLengths, assertChildRules, childRuleIssues, resolveChildPrefixLength } from "../../provider/core/prefixPolicy.js";
import { createSubnetSchema, parseInput } from "../../provider/core/schemas.js";

const parent16 = parseCidr("10.0.0.0/16", "cidr");
const rules = (min: number | null, max: number | null, preset: number | null) => ({ minPrefixLength: min, maxPrefixLength: max, defaultPrefixLength: preset });
const failure = (work: () => unknown): InvalidInputError => {
  try {
    work();
  } catch (error) {
    if (error instanceof InvalidInputError) return error;
    throw error;
  }
  throw new Error("expected InvalidInputError");
};

describe("child prefix rules", () => {
  it("defaults to anything strictly inside the parent, down to /32 or /128", () => {
    expect(allowedChildPrefixLengths(parent16, rules(null, null, null))).toEqual({ min: 17, max: 32 });
    expect(allowedChildPrefixLengths(parseCidr("2001:db8::/48", "c"), rules(null, 64, null))).toEqual({ min: 49, max: 64 });
  });

  it("names each rule that is outside [prefix+1, 32/128] or out of order", () => {
    expect(childRuleIssues(parent16, rules(16, 33, null))).toEqual([
      { field: "minPrefixLength", reason: "must be between 17 and 32 for children of 10.0.0.0/16, got 16" },
      { field: "maxPrefixLength", reason: "must be between 17 and 32 for children of 10.0.0.0/16, got 33" },
    ]);
    expect(childRuleIssues(parent16, rules(28, 20, null))).toEqual([{ field: "minPrefixLength", reason: "28 is greater than maxPrefixLength 20" }]);
    expect(childRuleIssues(parent16, rules(20, 28, 29))).toEqual([
      { field: "defaultPrefixLength", reason: "must be between minPrefixLength 20 and maxPrefixLength 28, got 29" },
    ]);
    expect(childRuleIssues(parent16, rules(20, 28, 24))).toEqual([]);
    // A host-sized subnet can have no children, but without rules it is simply fine.
    expect(childRuleIssues(parseCidr("10.0.0.1/32", "c"), rules(null, null, null))).toEqual([]);
    expect(childRuleIssues({ version: 6, prefixLength: 128, text: "a /128 child" }, rules(null, null, null))).toEqual([]);
    expect(childRuleIssues(parseCidr("10.0.0.0/31", "c"), rules(32, null, null))).toEqual([]);
    expect(() => assertChildRules(parent16, rules(20, null, 18))).toThrow("defaultPrefixLength: must be between minPrefixLength 20 and maxPrefixLength 32, got 18");
  });

  it("resolves the requested length, or the default, or says what is missing", () => {
    const parent = { id: "7", cidr: parent16, rules: rules(20, 28, 24) };
    expect(resolveChildPrefixLength(parent, undefined)).toBe(24);
    expect(resolveChildPrefixLength(parent, 28)).toBe(28);
    expect(failure(() => resolveChildPrefixLength(parent, 29)).issues).toEqual([
      { field: "prefixLength", reason: "must be between 20 and 28 for a child of subnet 7 (10.0.0.0/16) (its minPrefixLength/maxPrefixLength), got 29" },
    ]);
    expect(failure(() => resolveChildPrefixLength(parent, 19)).message).toContain("prefixLength: must be between 20 and 28");
    const bare = { id: "8", cidr: parent16, rules: rules(null, null, null) };
    expect(failure(() => resolveChildPrefixLength(bare, undefined)).message).toBe(
      "prefixLength: is required: subnet 8 (10.0.0.0/16) has no defaultPrefixLength (children may be /17 to /32)",
    );
    expect(failure(() => resolveChildPrefixLength(bare, 16)).message).toBe("prefixLength: must be between 17 and 32 for a child of subnet 8 (10.0.0.0/16), got 16");
  });
});

describe("create request shape", () => {
  it("a top-level subnet needs a cidr; child-only fields need parentId", () => {
    expect(failure(() => parseInput(createSubnetSchema, {})).message).toBe("cidr: is required (or give parentId and prefixLength to carve a child from a parent)");
    const error = failure(() => parseInput(createSubnetSchema, { cidr: "10.0.0.0/24", prefixLength: 26, strategy: "best-fit", idempotencyKey: "k" }));
    expect(error.issues.map((issue) => issue.field)).toEqual(["prefixLength", "strategy"]);
    expect(error.issues[0]!.reason).toBe("can only be given with parentId (when carving a child from a parent)");
  });

  it("a carved child cannot name addresses before its CIDR is known; strategy is for carving only", () => {
    const error = failure(() => parseInput(createSubnetSchema, { parentId: "1", prefixLength: 24, gateway: "10.0.0.1", reserved: [] }));
    expect(error.issues.map((issue) => issue.field)).toEqual(["gateway", "reserved"]);
    expect(failure(() => parseInput(createSubnetSchema, { parentId: "1", cidr: "10.0.0.0/24", strategy: "first-fit" })).message).toBe(
      "strategy: cannot be given with a specific cidr",
    );
    expect(failure(() => parseInput(createSubnetSchema, { parentId: "1", prefixLength: 24, strategy: "worst-fit" })).message).toBe(
      'strategy: must be "first-fit" or "best-fit"',
    );
    expect(failure(() => parseInput(createSubnetSchema, { parentId: "1", prefixLength: 24.5 })).message).toBe("prefixLength: must be a whole number");
    expect(failure(() => parseInput(createSubnetSchema, { parentId: "x", prefixLength: 24 })).message).toBe("parentId: must be a positive decimal integer string");
    expect(parseInput(createSubnetSchema, { parentId: "1", cidr: "10.0.0.0/24", gateway: "10.0.0.1" })).toMatchObject({ parentId: "1" });
  });
});

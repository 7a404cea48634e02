import { ADDRESS_BITS, type Cidr } from "./address.js";
import { InvalidInputError, type InputIssue } from "./errors.js";

/**
 * What a parent allows its children (AWS IPAM pool style). Lengths are of the children's own
 * prefixes: `minPrefixLength` 20 means no child larger than a /20. null: no rule.
 */
export interface ChildRules {
  readonly minPrefixLength: number | null;
  readonly maxPrefixLength: number | null;
  readonly defaultPrefixLength: number | null;
}

export const NO_CHILD_RULES: ChildRules = { minPrefixLength: null, maxPrefixLength: null, defaultPrefixLength: null };

/** Inclusive bounds on the prefix length of a child of `cidr`: rules where set, else strictly inside the parent. */
export function allowedChildPrefixLengths(cidr: RuledSubnet, rules: ChildRules): { readonly min: number; readonly max: number } {
  return { min: rules.minPrefixLength ?? cidr.prefixLength + 1, max: rules.maxPrefixLength ?? ADDRESS_BITS[cidr.version] };
}

/** The subnet rules are set on: its CIDR, or for a child not carved yet its family, length and a label ("a /24"). */
export type RuledSubnet = Pick<Cidr, "version" | "prefixLength" | "text">;

/**
 * Problems with the rules of a subnet whose CIDR is `cidr`: each length must lie in
 * [prefix + 1, 32 or 128], and min <= default <= max.
 */
export function childRuleIssues(cidr: RuledSubnet, rules: ChildRules): InputIssue[] {
  const issues: InputIssue[] = [];
  const lowest = cidr.prefixLength + 1;
  const highest = ADDRESS_BITS[cidr.version];
  for (const field of ["minPrefixLength", "maxPrefixLength", "defaultPrefixLength"] as const) {
    const value = rules[field];
    if (value !== null && (value < lowest || value > highest)) {
      issues.push({ field, reason: `must be between ${lowest} and ${highest} for children of ${cidr.text}, got ${value}` });
    }
  }
  if (issues.length > 0) return issues;
  const { min, max } = allowedChildPrefixLengths(cidr, rules);
  if (rules.minPrefixLength !== null && rules.maxPrefixLength !== null && min > max) {
    issues.push({ field: "minPrefixLength", reason: `${min} is greater than maxPrefixLength ${max}` });
  }
  const preset = rules.defaultPrefixLength;
  if (preset !== null && min <= max && (preset < min || preset > max)) {
    issues.push({ field: "defaultPrefixLength", reason: `must be between minPrefixLength ${min} and maxPrefixLength ${max}, got ${preset}` });
  }
  return issues;
}

/** @throws InvalidInputError naming each offending rule */
export function assertChildRules(cidr: RuledSubnet, rules: ChildRules): void {
  const issues = childRuleIssues(cidr, rules);
  if (issues.length > 0) throw new InvalidInputError(issues);
}

export interface ParentForRules {
  readonly id: string;
  readonly cidr: Cidr;
  readonly rules: ChildRules;
}

/**
 * The prefix length a new child of `parent` gets: the one requested (checked against the rules)
 * or the parent's default.
 * @throws InvalidInputError naming `prefixLength` (outside the allowed range, or missing with no default)
 */
export function resolveChildPrefixLength(parent: ParentForRules, requested: number | undefined): number {
  const { min, max } = allowedChildPrefixLengths(parent.cidr, parent.rules);
  const label = `subnet ${parent.id} (${parent.cidr.text})`;
  const length = requested ?? parent.rules.defaultPrefixLength;
  if (length === null) {
    throw InvalidInputError.of("prefixLength", `is required: ${label} has no defaultPrefixLength (children may be /${min} to /${max})`);
  }
  if (length < min || length > max) {
    const ruled = parent.rules.minPrefixLength !== null || parent.rules.maxPrefixLength !== null;
    throw InvalidInputError.of(
      "prefixLength",
      `must be between ${min} and ${max} for a child of ${label}${ruled ? " (its minPrefixLength/maxPrefixLength)" : ""}, got ${length}`,
    );
  }
  return length;
}

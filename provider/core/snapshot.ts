import { z } from "zod";
import { parseAddress, parseAddressAfter, parseSubnetCidrAfter, type Cidr, type IpAddress } from "./address.js";
import { InvalidInputError, type InputIssue } from "./errors.js";
import { groupBy } from "./groupBy.js";
import { rangesOverlap } from "./range.js";
import { SortedRanges } from "./sortedRanges.js";
import { timestampSchema } from "./timestamps.js";
import { childRuleIssues } from "./prefixPolicy.js";
import {
  allocateSchema,
  allocationIdSchema,
  childRuleFieldsSchema,
  LIMITS,
  namespaceSchema,
  parseInput,
  releaseHoldSecondsSchema,
  subnetFieldsSchema,
  subnetIdSchema,
} from "./schemas.js";
import { buildLayout, specificAddressProblem, type SubnetLayout } from "./subnetLayout.js";
import { blockHoldOver, checkBlockHolds, snapshotBlockHoldSchema, type BlockHoldIndex, type ValidatedBlockHold } from "./snapshotBlockHolds.js";

/**
 * A versioned JSON picture of subnets and their allocations, for backups and for moving state
 * between databases. Ids are the source database's; an import keeps them (so Pulumi state that
 * names them stays valid) unless asked to assign new ones.
 */
export const SNAPSHOT_FORMAT = "pulumi-ipam/v1";

const timestamp = timestampSchema;

/** An address released and held back until `heldUntil` (hold-down), for whoever released it. */
const snapshotHoldSchema = z.strictObject({
  address: z.string({ error: "must be an address string" }),
  heldUntil: timestamp,
  owner: allocateSchema.shape.owner,
  allocationId: allocationIdSchema,
});

export const snapshotSubnetSchema = z.strictObject({
  id: subnetIdSchema,
  namespace: namespaceSchema,
  parentId: subnetIdSchema.nullable(),
  cidr: z.string({ error: "must be a CIDR string" }),
  gateway: subnetFieldsSchema.gateway,
  /** null: the default pools (the usable range minus the gateway). */
  allocationPools: subnetFieldsSchema.allocationPools.nullable(),
  reserved: subnetFieldsSchema.reserved,
  description: subnetFieldsSchema.description,
  tags: subnetFieldsSchema.tags,
  // Child subnets (migration 0002); absent in older files.
  childrenOnly: childRuleFieldsSchema.childrenOnly.optional(),
  minPrefixLength: childRuleFieldsSchema.minPrefixLength.optional(),
  maxPrefixLength: childRuleFieldsSchema.maxPrefixLength.optional(),
  defaultPrefixLength: childRuleFieldsSchema.defaultPrefixLength.optional(),
  // Hold-down (migration 0011): written only when not 0 / not empty, absent in older files.
  releaseHoldSeconds: releaseHoldSecondsSchema.optional(),
  heldAddresses: z
    .array(snapshotHoldSchema, { error: "must be an array of holds" })
    .max(LIMITS.maxCount, { error: `must hold at most ${LIMITS.maxCount} holds` })
    .optional(),
  // Child blocks held after their child's delete (migration 0014): written only when not empty.
  heldChildBlocks: z
    .array(snapshotBlockHoldSchema, { error: "must be an array of held child blocks" })
    .max(LIMITS.maxCount, { error: `must hold at most ${LIMITS.maxCount} held child blocks` })
    .optional(),
  idempotencyKey: allocateSchema.shape.idempotencyKey.unwrap().nullable().optional(),
  createdAt: timestamp.optional(),
  updatedAt: timestamp.optional(),
});
export type SnapshotSubnet = z.output<typeof snapshotSubnetSchema>;

export const snapshotAllocationSchema = z.strictObject({
  id: allocationIdSchema,
  subnetId: subnetIdSchema,
  owner: allocateSchema.shape.owner,
  idempotencyKey: allocateSchema.shape.idempotencyKey.unwrap().nullable(),
  strategy: z.enum(["specific", "sequential", "random"], { error: 'must be "specific", "sequential" or "random"' }),
  addresses: z
    .array(z.string({ error: "must be an address string" }), { error: "must be an array of addresses" })
    .min(1, { error: "must hold at least one address" })
    .max(LIMITS.maxCount, { error: `must hold at most ${LIMITS.maxCount} addresses` }),
  description: allocateSchema.shape.description.unwrap(),
  tags: allocateSchema.shape.tags.unwrap(),
  createdAt: timestamp.optional(),
  updatedAt: timestamp.optional(),
});
export type SnapshotAllocation = z.output<typeof snapshotAllocationSchema>;

export const snapshotSchema = z.strictObject({
  format: z.literal(SNAPSHOT_FORMAT, { error: `must be "${SNAPSHOT_FORMAT}"` }),
  exportedAt: timestamp.optional(),
  subnets: z.array(snapshotSubnetSchema, { error: "must be an array" }),
  allocations: z.array(snapshotAllocationSchema, { error: "must be an array" }),
});
export type Snapshot = z.output<typeof snapshotSchema>;

export interface ValidatedSubnet {
  readonly record: SnapshotSubnet;
  readonly layout: SubnetLayout;
}

export interface ValidatedAllocation {
  readonly record: SnapshotAllocation;
  /** Canonical addresses, ascending, with their integer values. */
  readonly addresses: readonly { readonly text: string; readonly value: bigint }[];
}

export interface ValidatedSnapshot {
  /** Parents before children. */
  readonly subnets: readonly ValidatedSubnet[];
  readonly allocations: readonly ValidatedAllocation[];
  /** Active holds (hold-down) by source subnet id, canonical addresses. */
  readonly holds: ReadonlyMap<string, readonly ValidatedHold[]>;
  /** Held child blocks by source parent id. */
  readonly blockHolds: BlockHoldIndex;
}

export type { BlockHoldIndex, ValidatedBlockHold };

export interface ValidatedHold {
  readonly address: { readonly text: string; readonly value: bigint };
  readonly heldUntil: string;
  readonly owner: string;
  readonly allocationId: string;
}

/** Enough issues to fix a file in a few rounds without flooding the terminal. */
export const MAX_ISSUES = 50;

/**
 * Check a snapshot the way the core checks each request: every field against the core's schemas,
 * every subnet's layout, every address against its subnet (usable, not the gateway, not reserved;
 * outside the pools is allowed as for specific requests), no address or idempotency key held twice,
 * no overlapping siblings, parents present and containing their children.
 * @throws InvalidInputError naming each offending field (`subnets.2.gateway`, `allocations.7.addresses.0`)
 */
export function validateSnapshot(input: unknown): ValidatedSnapshot {
  const snapshot = parseInput(snapshotSchema, input);
  const issues: InputIssue[] = [];
  const report = (field: string, reason: string) => {
    if (issues.length < MAX_ISSUES) issues.push({ field, reason });
  };
  const subnets = validateSubnets(snapshot.subnets, report);
  const childrenOf = childrenIndex(subnets);
  const blockHolds = checkBlockHolds(subnets, childrenOf, report);
  const allocations = validateAllocations(snapshot.allocations, subnets, childrenOf, blockHolds, report);
  const holds = validateHolds(subnets, allocations, blockHolds, report);
  if (issues.length > 0) throw new InvalidInputError(issues);
  const ordered = [...subnets.values()].sort((a, b) => a.layout.cidr.prefixLength - b.layout.cidr.prefixLength);
  const validated: ValidatedSnapshot = { subnets: ordered, allocations, holds, blockHolds };
  validatedHere.add(validated);
  return validated;
}

/** Results of validateSnapshot: only these are taken as valid without checking again. */
const validatedHere = new WeakSet<ValidatedSnapshot>();

/**
 * `input` as validateSnapshot returns it: as given when it is already one of its results (the CLI
 * validates before connecting; validating a 1M-allocation file again cost as much as the first
 * time, issue 22 item 7), validated otherwise. A look-alike object built elsewhere is validated.
 * @throws InvalidInputError as validateSnapshot
 */
export function validatedSnapshot(input: unknown): ValidatedSnapshot {
  return typeof input === "object" && input !== null && validatedHere.has(input as ValidatedSnapshot) ? (input as ValidatedSnapshot) : validateSnapshot(input);
}

export type Report = (field: string, reason: string) => void;

/** Subnets by id (with their position in the file), after every check that needs them all. Shared with the streamed check (snapshotCheck.ts). */
export function validateSubnets(records: readonly SnapshotSubnet[], report: Report): Map<string, ValidatedSubnet & { index: number }> {
  const byId = new Map<string, ValidatedSubnet & { index: number }>();
  // Children carved one after another are exported one after another: each CIDR is first compared with the block after the last parsed.
  let previous: Cidr | null = null;
  records.forEach((record, index) => {
    const at = `subnets.${index}`;
    if (byId.has(record.id)) return report(`${at}.id`, `subnet id ${record.id} appears twice`);
    try {
      const cidr = parseSubnetCidrAfter(record.cidr, "cidr", previous);
      previous = cidr;
      const layout = buildLayout(cidr, record);
      const rules = { minPrefixLength: record.minPrefixLength ?? null, maxPrefixLength: record.maxPrefixLength ?? null, defaultPrefixLength: record.defaultPrefixLength ?? null };
      for (const issue of childRuleIssues(layout.cidr, rules)) report(`${at}.${issue.field}`, issue.reason);
      byId.set(record.id, { record, layout, index });
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      for (const issue of error.issues) report(`${at}.${issue.field}`, issue.reason);
    }
  });
  for (const subnet of byId.values()) {
    const parentId = subnet.record.parentId;
    if (parentId === null) continue;
    const parent = byId.get(parentId);
    const field = `subnets.${subnet.index}.parentId`;
    if (parent === undefined) report(field, `subnet ${parentId} is not in the file`);
    else if (parent.record.namespace !== subnet.record.namespace) report(field, `parent ${parentId} is in namespace "${parent.record.namespace}", not "${subnet.record.namespace}"`);
    else if (!strictlyInside(subnet.layout, parent.layout)) report(field, `${subnet.layout.cidr.text} is not strictly inside its parent ${parent.layout.cidr.text}`);
    else if (Number(parentId) >= Number(subnet.record.id)) report(field, `parent ${parentId} must have a lower id than its child ${subnet.record.id} (parents are created first)`);
  }
  const keys = new Set<string>();
  for (const subnet of byId.values()) {
    const key = subnet.record.idempotencyKey ?? null;
    if (key === null) continue;
    // A child's key is unique under its parent, a top-level subnet's within its namespace.
    const { parentId, namespace } = subnet.record;
    const scoped = parentId === null ? `namespace\u0000${namespace}\u0000${key}` : `parent\u0000${parentId}\u0000${key}`;
    if (keys.has(scoped)) report(`subnets.${subnet.index}.idempotencyKey`, `${JSON.stringify(key)} is used twice ${parentId === null ? `in namespace "${namespace}"` : `under parent ${parentId}`}`);
    keys.add(scoped);
  }
  reportOverlappingSiblings([...byId.values()], report);
  return byId;
}

function strictlyInside(child: SubnetLayout, parent: SubnetLayout): boolean {
  return (
    child.cidr.version === parent.cidr.version &&
    child.cidr.prefixLength > parent.cidr.prefixLength &&
    child.cidr.first >= parent.cidr.first &&
    child.cidr.last <= parent.cidr.last
  );
}

function reportOverlappingSiblings(subnets: readonly (ValidatedSubnet & { index: number })[], report: Report): void {
  const groups = groupBy(subnets, (subnet) => `${subnet.record.namespace}\u0000${subnet.record.parentId ?? ""}\u0000${subnet.layout.cidr.version}`);
  for (const group of groups.values()) {
    group.sort((a, b) => (a.layout.cidr.first < b.layout.cidr.first ? -1 : a.layout.cidr.first > b.layout.cidr.first ? 1 : 0));
    for (let i = 1; i < group.length; i += 1) {
      const previous = group[i - 1]!;
      const current = group[i]!;
      if (rangesOverlap(previous.layout.cidr, current.layout.cidr)) {
        report(`subnets.${current.index}.cidr`, `${current.layout.cidr.text} overlaps subnet ${previous.record.id} (${previous.layout.cidr.text}) in namespace "${current.record.namespace}"`);
      }
    }
  }
}

/** Each parent's children in the file, found by address (a parent with none is absent). */
export type ChildrenIndex = ReadonlyMap<string, SortedRanges<ValidatedSubnet>>;

export function childrenIndex(subnets: ReadonlyMap<string, ValidatedSubnet>): ChildrenIndex {
  const children = [...subnets.values()].filter((subnet) => subnet.record.parentId !== null);
  return new Map([...groupBy(children, (subnet) => subnet.record.parentId!)].map(([parentId, group]) => [parentId, new SortedRanges(group, (child) => child.layout.cidr)]));
}

function validateAllocations(
  records: readonly SnapshotAllocation[],
  subnets: ReadonlyMap<string, ValidatedSubnet>,
  childrenOf: ChildrenIndex,
  blockHolds: BlockHoldIndex,
  report: Report,
): ValidatedAllocation[] {
  const ids = new Set<string>();
  // Per subnet: address to the allocation holding it, keyed by canonical text (one text per value in
  // a subnet's one IP version). Not by value: V8 hashes a BigInt by its lowest 64 bits, so a subnet's
  // IPv6 addresses that share them (::1 in each /64 of a /48) all collided, 65,536 of them in ~100 s.
  const holders = new Map<string, Map<string, string>>();
  const keys = new Set<string>();
  const result: ValidatedAllocation[] = [];
  records.forEach((record, index) => {
    const at = `allocations.${index}`;
    if (ids.has(record.id)) return report(`${at}.id`, `allocation id ${record.id} appears twice`);
    ids.add(record.id);
    const subnet = subnets.get(record.subnetId);
    if (subnet === undefined) return report(`${at}.subnetId`, `subnet ${record.subnetId} is not in the file (or is invalid)`);
    if (subnet.record.childrenOnly === true) return report(`${at}.subnetId`, `subnet ${record.subnetId} is childrenOnly: it holds no addresses of its own`);
    const children = childrenOf.get(record.subnetId);
    let held = holders.get(record.subnetId);
    if (held === undefined) holders.set(record.subnetId, (held = new Map()));
    if (record.idempotencyKey !== null) {
      const key = `${record.subnetId}\u0000${record.idempotencyKey}`;
      if (keys.has(key)) report(`${at}.idempotencyKey`, `${JSON.stringify(record.idempotencyKey)} is used twice in subnet ${record.subnetId}`);
      keys.add(key);
    }
    if (record.strategy === "specific" && record.addresses.length !== 1) {
      report(`${at}.addresses`, "an allocation of a specific address holds exactly one address");
    }
    const addresses: { text: string; value: bigint }[] = [];
    // Bulk allocations are mostly consecutive: each address is first compared with the text of the one after the last parsed.
    let previous: IpAddress | null = null;
    record.addresses.forEach((text, position) => {
      const field = `${at}.addresses.${position}`;
      try {
        const address = parseAddressAfter(text, field, previous);
        previous = address;
        const problem = specificAddressProblem(subnet.layout, address);
        if (problem !== null) return report(field, problem);
        const child = children?.find(address.value);
        if (child !== undefined) return report(field, `${address.text} is inside child subnet ${child.record.id} (${child.layout.cidr.text})`);
        const heldBlock = blockHoldOver(blockHolds, record.subnetId, address);
        if (heldBlock !== null) return report(field, heldBlock);
        const holder = held.get(address.text);
        if (holder !== undefined) return report(field, `${address.text} is also held by allocation ${holder}`);
        held.set(address.text, record.id);
        addresses.push({ text: address.text, value: address.value });
      } catch (error) {
        if (!(error instanceof InvalidInputError)) throw error;
        for (const issue of error.issues) report(issue.field, issue.reason);
      }
    });
    addresses.sort((a, b) => (a.value < b.value ? -1 : 1));
    result.push({ record, addresses });
  });
  return result;
}

/**
 * Holds are addresses the subnet could hand out (usable, not the gateway, not reserved, not in a
 * child) that no allocation of the file holds, each once.
 */
function validateHolds(
  subnets: ReadonlyMap<string, ValidatedSubnet & { index: number }>,
  allocations: readonly ValidatedAllocation[],
  blockHolds: BlockHoldIndex,
  report: Report,
): Map<string, ValidatedHold[]> {
  const holding = holdingSubnets(subnets);
  // Most files hold no holds: then nothing below is built (a 1M-address set would cost a snapshot's import dearly).
  if (holding.size === 0) return new Map();
  const allocated = new Set(
    allocations.filter((allocation) => holding.has(allocation.record.subnetId)).flatMap((allocation) => allocation.addresses.map((address) => `${allocation.record.subnetId}\u0000${address.value}`)),
  );
  return checkHolds(subnets, (subnetId, address) => allocated.has(`${subnetId}\u0000${address.value}`), blockHolds, report);
}

/** Ids of the subnets whose record lists held addresses. */
export function holdingSubnets(subnets: ReadonlyMap<string, ValidatedSubnet>): Set<string> {
  return new Set([...subnets.values()].filter((subnet) => (subnet.record.heldAddresses ?? []).length > 0).map((subnet) => subnet.record.id));
}

/**
 * The holds of every holding subnet, checked; `allocated` says whether an allocation of the file
 * holds the address (the whole-file check asks a set, the streamed one its per-subnet index).
 */
export function checkHolds(
  subnets: ReadonlyMap<string, ValidatedSubnet & { index: number }>,
  allocated: (subnetId: string, address: IpAddress) => boolean,
  blockHolds: BlockHoldIndex,
  report: Report,
): Map<string, ValidatedHold[]> {
  const result = new Map<string, ValidatedHold[]>();
  const holding = holdingSubnets(subnets);
  if (holding.size === 0) return result;
  const childrenOf = groupBy([...subnets.values()].filter((child) => child.record.parentId !== null && holding.has(child.record.parentId)), (child) => child.record.parentId!);
  for (const subnet of subnets.values()) {
    if (!holding.has(subnet.record.id)) continue;
    const children = childrenOf.get(subnet.record.id) ?? [];
    const holds: ValidatedHold[] = [];
    // Canonical texts, not values (see the holders in validateAllocations).
    const seen = new Set<string>();
    (subnet.record.heldAddresses ?? []).forEach((hold, position) => {
      const field = `subnets.${subnet.index}.heldAddresses.${position}.address`;
      try {
        const address = parseAddress(hold.address, field);
        const problem = specificAddressProblem(subnet.layout, address);
        if (problem !== null) return report(field, problem);
        if (subnet.record.childrenOnly === true) return report(field, "a childrenOnly subnet holds no addresses of its own");
        const child = children.find((c) => address.value >= c.layout.cidr.first && address.value <= c.layout.cidr.last);
        if (child !== undefined) return report(field, `${address.text} is inside child subnet ${child.record.id} (${child.layout.cidr.text})`);
        const heldBlock = blockHoldOver(blockHolds, subnet.record.id, address);
        if (heldBlock !== null) return report(field, heldBlock);
        if (seen.has(address.text)) return report(field, `${address.text} is held twice`);
        if (allocated(subnet.record.id, address)) return report(field, `${address.text} is also allocated in the file`);
        seen.add(address.text);
        holds.push({ address: { text: address.text, value: address.value }, heldUntil: hold.heldUntil, owner: hold.owner, allocationId: hold.allocationId });
      } catch (error) {
        if (!(error instanceof InvalidInputError)) throw error;
        for (const issue of error.issues) report(issue.field, issue.reason);
      }
    });
    if (holds.length > 0) result.set(subnet.record.id, holds);
  }
  return result;
}

/**
 * Subnet ids a snapshot may keep: the id sequence (int4, also the advisory lock key) moves past the
 * highest one imported, so an id near 2,147,483,647 would leave no ids for new subnets (issue 13
 * item 10: importing 2147483647 exhausted the sequence). At least a million stay free.
 */
export const MAX_KEPT_SUBNET_ID = 2_147_483_647 - 1_000_000;

/** @throws InvalidInputError naming each subnet whose id is too close to the limit to keep */
export function refuseIdsNearLimit(snapshot: { readonly subnets: readonly ValidatedSubnet[] }): void {
  const issues: InputIssue[] = snapshot.subnets
    .filter((subnet) => Number(subnet.record.id) > MAX_KEPT_SUBNET_ID)
    .slice(0, MAX_ISSUES)
    .map((subnet) => ({
      field: "subnets.id",
      reason: `subnet id ${subnet.record.id} is within 1,000,000 of the id limit 2147483647: keeping it would leave too few ids for new subnets; import with new ids (--new-ids)`,
    }));
  if (issues.length > 0) throw new InvalidInputError(issues);
}

import { randomUUID } from "node:crypto";
import { InvalidInputError, SubnetInUseError } from "../core/errors.js";
import { createSubnetSchema, parseInput } from "../core/schemas.js";
import { SUBNET_CONTRACT } from "../core/subnetContract.js";
import { defaultsOf, inputNames, inputsThat, type InputsThat } from "../core/resourceContract.js";
import { parseCidr, parseSubnetCidr } from "../core/address.js";
import { buildLayout } from "../core/subnetLayout.js";
import { assertChildRules } from "../core/prefixPolicy.js";
import type { Subnet } from "../core/types.js";
import { guarded, identityOf, ipam, ipamWithIdentity } from "./connection.js";
import { assertLegacyRow, assertLegacyRowMatches, assertSameDatabase, DATABASE, needsStateUpgrade } from "./databaseIdentity.js";
import { CLAIM, claimOf, isGone, ownerKey, OWNER, SCOPE, STACK } from "./resourceIdentity.js";
import { refuseCrossedIds, refuseUnlessEnded } from "./lostResources.js";
import { DeleteFirstReplacementError } from "./deleteFirstGuard.js";
import { knownIssues, knownView } from "./unknowns.js";
import { failuresOf, isUnknown, same, userInputs, type Props } from "./wire.js";

/** Every input (core/subnetContract.ts): what Check validates and the state keeps as `__inputs`. */
export const SUBNET_INPUTS = inputNames(SUBNET_CONTRACT);
/** Changed in place by updateSubnet; the contract's replace inputs (cidr, namespace, parentId, prefixLength) replace. */
const UPDATE_ON = inputsThat(SUBNET_CONTRACT, "update");
const DEFAULTS: Props = defaultsOf(SUBNET_CONTRACT);

export function subnetOutputs(subnet: Subnet): Props {
  return {
    subnetId: subnet.id,
    cidr: subnet.cidr,
    namespace: subnet.namespace,
    parentId: subnet.parentId,
    prefixLength: subnet.prefixLength,
    ipVersion: subnet.ipVersion,
    size: subnet.size,
    gateway: subnet.gateway ?? null,
    allocationPools: subnet.allocationPools.map((p) => ({ start: p.start, end: p.end })),
    reserved: [...subnet.reserved],
    description: subnet.description,
    tags: { ...subnet.tags },
    childrenOnly: subnet.childrenOnly,
    minPrefixLength: subnet.minPrefixLength,
    maxPrefixLength: subnet.maxPrefixLength,
    defaultPrefixLength: subnet.defaultPrefixLength,
    releaseHoldSeconds: subnet.releaseHoldSeconds,
    __poolsExplicit: subnet.allocationPoolsExplicit,
  };
}

/** Outputs plus what the engine must keep: the inputs (diff compares them), the hidden owner, scope and claim, and the database's identity. */
function stored(subnet: Subnet, inputs: Props, hidden: Props, claim: string | undefined, database: string): Props {
  return {
    ...subnetOutputs(subnet),
    __inputs: inputs,
    ...(hidden[OWNER] === undefined ? {} : { [OWNER]: hidden[OWNER] }),
    ...(hidden[SCOPE] === undefined ? {} : { [SCOPE]: hidden[SCOPE] }),
    ...(hidden[STACK] === undefined ? {} : { [STACK]: hidden[STACK] }),
    [CLAIM]: claim ?? null,
    [DATABASE]: database,
  };
}

/**
 * Validate with the core's schema and layout rules; never touches the database. In preview, values
 * computed from other resources are unknown at any depth: everything known is validated, exactly
 * the unknown parts are skipped (unknowns.ts).
 */
export async function check(olds: Props, news: Props) {
  // A pool with one unknown bound is checked as the single address it surely contains (its known
  // bound, copied into the unknown one): a subset of the real pool, so any failure found holds for the
  // real one, and a finding at the copy is reported at the known bound it came from.
  const copies: [string, string][] = [];
  const pools = Array.isArray(news.allocationPools)
    ? news.allocationPools.map((p: Props, i: number) => {
        if (p === null || typeof p !== "object" || isUnknown(p.start) === isUnknown(p.end)) return p;
        const [unknown, known] = isUnknown(p.start) ? ["start", "end"] : ["end", "start"];
        copies.push([`allocationPools.${i}.${unknown}`, `allocationPools.${i}.${known}`]);
        return { ...p, [unknown]: p[known] };
      })
    : news.allocationPools;
  const withPools = Array.isArray(news.allocationPools) ? { ...news, allocationPools: pools } : news;
  // An unknown parentId still makes this a child (the id itself is checked once known).
  const known = knownView(userInputsKeepingUnknowns(withPools), { parentId: "1" });
  for (const [copy, source] of copies) known.copiedFrom.set(copy, source);
  const issues = knownIssues(known, () => {
    const parsed = parseInput(createSubnetSchema, known.view);
    // A carved child's CIDR is chosen at create, an unknown one is known later: only a given, known one has a layout to check now.
    if (parsed.cidr !== undefined) {
      // A new CIDR (a new subnet, or a replacement) is held to the create rules, so preview refuses
      // what up would; the CIDR of an existing subnet, which an earlier release may have accepted, is not.
      const cidr = olds.cidr === parsed.cidr ? parseCidr(parsed.cidr, "cidr") : parseSubnetCidr(parsed.cidr, "cidr");
      const layout = buildLayout(cidr, parsed);
      const rule = (key: "minPrefixLength" | "maxPrefixLength" | "defaultPrefixLength") => parsed[key] ?? null;
      assertChildRules(layout.cidr, { minPrefixLength: rule("minPrefixLength"), maxPrefixLength: rule("maxPrefixLength"), defaultPrefixLength: rule("defaultPrefixLength") });
    }
  });
  return issues.length === 0 ? { inputs: news } : { inputs: news, failures: failuresOf(new InvalidInputError(issues)) };
}

/** The user's inputs with unknowns still in place (knownView decides what to do with them). */
function userInputsKeepingUnknowns(props: Props): Props {
  return Object.fromEntries(SUBNET_INPUTS.filter((k) => props[k] !== undefined && props[k] !== null).map((k) => [k, props[k]]));
}

/**
 * Diff as the SDK host calls it: `diffOf`, and, for a delete-first replacement, what the old subnet
 * holds read first.
 * @throws (SUBNET_IN_USE) for a replacement that must delete the old subnet first while it holds
 *   allocations or child subnets (deleteFirstGuard.ts): Diff runs before any step, so nothing changes.
 */
export async function diff(id: string, olds: Props, news: Props) {
  const result = diffOf(olds, news);
  // In a preview, an unknown cidr, namespace or parentId does not collide (yet): the `up` that knows
  // them asks again, and refuses here before any step of it touches this subnet or its allocations.
  if (result.deleteBeforeReplace) await refuseDeleteFirstWhileHeld(id, olds, String(news.cidr));
  return result;
}

/** What the contract says a change does (replace or update in place), and whether the old subnet must go first; reads nothing. */
export function diffOf(olds: Props, news: Props) {
  const oldInputs = (olds.__inputs as Props | undefined) ?? {};
  const replaces = inputsThat(SUBNET_CONTRACT, "replace").filter((k) => REPLACED_WHEN[k](olds, oldInputs, news));
  // The rest compares with current outputs (a refresh brings in edits made outside Pulumi), absent inputs as defaults.
  const updates = UPDATE_ON.filter((k) => (k === "allocationPools" ? poolsChanged(olds, news) : !same(olds[k] ?? DEFAULTS[k], news[k] ?? DEFAULTS[k])));
  return {
    // State from before database identities (or naming the provider by path) is rewritten by an Update.
    changes: replaces.length > 0 || updates.length > 0 || needsStateUpgrade(olds),
    replaces,
    deleteBeforeReplace: replaces.length > 0 && collides(olds, news),
  };
}

/** Read-only: what the old subnet holds, in the database its state names (deleteFirstGuard.ts says why). */
async function refuseDeleteFirstWhileHeld(id: string, olds: Props, newCidr: string): Promise<void> {
  await guarded("checking a subnet replacement", async () => {
    const db = await ipam();
    await assertSameDatabase(db, olds);
    await assertLegacySubnet(db, id, olds);
    const holders = await db.subnetHolders(id);
    if (holders === null || holders.allocations.count + holders.children.count === 0) return;
    throw new DeleteFirstReplacementError(id, String(olds.cidr), canonicalCidr(newCidr) as string, holders);
  });
}

/**
 * When each of the contract's replace inputs asks for a new subnet. cidr and prefixLength compare with
 * what the subnet is (canonical), when the program names them; absent inputs count as their defaults.
 */
const REPLACED_WHEN: Record<InputsThat<typeof SUBNET_CONTRACT, "replace">, (olds: Props, oldInputs: Props, news: Props) => boolean> = {
  cidr: (olds, oldInputs, news) => isUnknown(news.cidr) || (news.cidr !== undefined ? canonicalCidr(news.cidr) !== olds.cidr : oldInputs.cidr !== undefined),
  namespace: (_olds, oldInputs, news) => (oldInputs.namespace ?? DEFAULTS.namespace) !== (news.namespace ?? DEFAULTS.namespace),
  parentId: (olds, _oldInputs, news) => isUnknown(news.parentId) || (olds.parentId ?? DEFAULTS.parentId) !== (news.parentId ?? DEFAULTS.parentId),
  prefixLength: (olds, _oldInputs, news) => isUnknown(news.prefixLength) || (news.prefixLength !== undefined && news.prefixLength !== olds.prefixLength),
};

/**
 * The idempotency key a Subnet resource creates with, from its inputs and hidden owner, scope and
 * stack (also what `ipam reconcile` re-creates a subnet with, from the state's `__inputs`).
 */
export function subnetKey(props: Props): string {
  const inputs = userInputs(props, SUBNET_INPUTS);
  const what =
    inputs.parentId === undefined
      ? `${keyPart(inputs.namespace ?? "default")}:${keyPart(canonicalCidr(inputs.cidr))}`
      : `child:${keyPart(inputs.cidr ?? `/${keyPart(inputs.prefixLength ?? "default")}`)}`;
  return ownerKey(props, what);
}

function keyPart(value: unknown): string {
  return typeof value === "string" ? value : (JSON.stringify(value) ?? "undefined");
}

function canonicalCidr(value: unknown): unknown {
  try {
    return parseCidr(value, "cidr").text;
  } catch {
    return value;
  }
}

function poolsChanged(olds: Props, news: Props): boolean {
  if (news.allocationPools === undefined) return olds.__poolsExplicit === true;
  return !same(olds.allocationPools, news.allocationPools);
}

/** The old subnet must go first when the new one would collide with it (same namespace and parent, overlapping range). */
function collides(olds: Props, news: Props): boolean {
  if (typeof news.cidr !== "string" || (olds.parentId ?? null) !== (news.parentId ?? null)) return false;
  if (news.parentId === undefined && (olds.namespace ?? "default") !== (news.namespace ?? "default")) return false;
  try {
    const a = parseCidr(olds.cidr, "cidr");
    const b = parseCidr(news.cidr, "cidr");
    return a.version === b.version && a.first <= b.last && b.first <= a.last;
  } catch {
    return false;
  }
}

/**
 * Idempotent: a retried create returns the subnet the first attempt made (top level or carved),
 * claimed anew, so a crash between commit and the engine's checkpoint neither fails on the
 * subnet's own overlap nor takes a second block.
 */
export async function create(props: Props) {
  const claim = randomUUID();
  return guarded(
    "creating a subnet",
    async () => {
      const inputs = userInputs(props, SUBNET_INPUTS);
      // Built before the core validates: a hostile value (an object whose toString is not a function) must
      // reach the core and fail as INVALID_INPUT, not break the key.
      const key = props[OWNER] === undefined ? {} : { idempotencyKey: subnetKey(props) };
      const { db, database } = await ipamWithIdentity();
      const subnet = await db.createSubnet({ ...inputs, ...key, claim } as never);
      return { id: subnet.id, outs: stored(subnet, inputs, props, claim, database) };
    },
    // Without an owner (not made by the SDK) there is no identity to make a key from, so a lost
    // COMMIT is reported instead of retried (a retry could carve a second child).
    { idempotent: props[OWNER] !== undefined },
  );
}

/**
 * Two callers. A refresh passes the stored outputs (they hold `subnetId`): a blank id when the subnet
 * is gone or a newer claimant (a replacement) holds it; otherwise its live values, and refreshed
 * inputs (see `refreshedInputs`). A `get` (`Subnet.get`, or `new Subnet(name, args, { id })`) passes
 * only the program's registration: the live values, and a clear NOT_FOUND failure when there is no
 * such subnet (a get of something missing is an error, never an empty resource).
 */
export async function read(id: string, props: Props) {
  return guarded("reading a subnet", async () => {
    // Stored outputs always hold subnetId (every release wrote it); a get's registration never does.
    const db = await ipam();
    if (props.subnetId === undefined) return { id, props: { ...subnetOutputs(await db.getSubnet(id)), [DATABASE]: await identityOf(db) } };
    const database = await assertSameDatabase(db, props);
    try {
      const subnet = await db.getSubnet(id);
      if (isGone(subnet.claim, props)) return { id: "", props: {} };
      await assertLegacyRowMatches(db, props, "subnet", legacyProblem(subnet, props));
      refuseCrossedIds("subnet", id, crossedProblem(subnet, props), props);
      // State from a release that kept no __inputs: the engine keeps the inputs it has.
      if (props.__inputs === undefined) return { id, props: stored(subnet, {}, props, claimOf(props), database) };
      const inputs = refreshedInputs(subnet, props);
      return { id, props: stored(subnet, userInputs(inputs, SUBNET_INPUTS), props, claimOf(props), database), inputs };
    } catch (error) {
      if ((error as { code?: string }).code !== "NOT_FOUND") throw error;
      // Gone, unless the state predates identities: then this may be the wrong database, and saying
      // "gone" would drop a live resource from the stack.
      await assertLegacyRowMatches(db, props, "subnet", "there is no subnet with that id");
      await refuseUnlessEnded(db, "subnet", id, props);
      return { id: "", props: {} };
    }
  });
}

/**
 * The inputs a refresh hands back to the engine (RefreshStep keeps them for later diffs). With
 * `ignoreChanges: ["tags"]` the engine resets the program's tags to the OLD INPUTS before Diff
 * (step_generator.go, processIgnoreChanges), while Diff compares with the stored OUTPUTS: unless the
 * refresh brings the live tags into the inputs too, an `up` would "restore" the tags edited outside
 * Pulumi. Without ignoreChanges the program's values still win (drift is corrected). Only tags,
 * description and fields the program sets are refreshed, so a child never gains a layout it may not set.
 */
function refreshedInputs(subnet: Subnet, props: Props): Props {
  const old = props.__inputs as Props;
  const live = subnetOutputs(subnet);
  const inputs: Props = { ...old };
  for (const k of UPDATE_ON) if (k in old || k === "tags" || k === "description") inputs[k] = live[k];
  for (const hidden of [OWNER, SCOPE, STACK]) if (props[hidden] !== undefined) inputs[hidden] = props[hidden];
  return inputs;
}

export async function update(id: string, olds: Props, news: Props) {
  return guarded("updating a subnet", async () => {
    const next = userInputs(news, SUBNET_INPUTS);
    const patch: Props = {};
    for (const k of UPDATE_ON) patch[k] = next[k] ?? DEFAULTS[k];
    // A newer claimant (a replacement) holds it: SUPERSEDED, nothing changes.
    const claim = claimOf(olds);
    const db = await ipam();
    const database = await assertSameDatabase(db, olds);
    await assertLegacySubnet(db, id, olds);
    const { subnet } = await db.updateSubnet(id, patch as never, claim === undefined ? {} : { claim });
    return { outs: stored(subnet, next, news, claimOf(olds), database) };
  });
}

/** Delete, unless a newer claimant (a replacement of this resource) holds the subnet now. */
export async function remove(id: string, props: Props = {}) {
  return guarded("deleting a subnet", async () => {
    const db = await ipam();
    await assertSameDatabase(db, props);
    await assertLegacySubnet(db, id, props);
    const claim = claimOf(props);
    try {
      await db.deleteSubnet(id, claim === undefined ? {} : { claim });
    } catch (error) {
      if (!(error instanceof SubnetInUseError) || error.what !== "allocation") throw error;
      // Name every holder (owner = project/stack/resource), so the user knows which stacks to destroy first.
      const { allocations } = await db.listAllocations({ subnetId: id }, { limit: 50 });
      const names = allocations.map((a) => `${a.owner} (${a.addresses.join(", ")})`);
      throw new SubnetInUseError(id, error.allocationCount, names);
    }
  });
}

/** What makes the row under this id not the subnet a pre-identity resource made, or null. */
function legacyProblem(subnet: Subnet, props: Props): string | null {
  if (typeof props.cidr === "string" && props.cidr !== subnet.cidr) return `it is ${subnet.cidr}, not ${props.cidr}`;
  if (typeof props.namespace === "string" && props.namespace !== subnet.namespace) return `it is in namespace ${subnet.namespace}, not ${props.namespace}`;
  return null;
}

/** Pre-identity state only: refuse a row that is not this resource's (a missing or superseded one is left to the call). */
function assertLegacySubnet(db: Awaited<ReturnType<typeof ipam>>, id: string, props: Props): Promise<void> {
  return assertLegacyRow(db, props, "subnet", () => db.getSubnet(id), (row) => legacyProblem(row, props));
}

/** What makes the row under this id another subnet (ids issued again after a restore), or null. */
function crossedProblem(subnet: Subnet, props: Props): string | null {
  if (typeof props.cidr === "string" && props.cidr !== subnet.cidr) return `it is ${subnet.cidr}, not ${props.cidr}`;
  return null;
}

import { randomUUID } from "node:crypto";
import { InvalidInputError } from "../core/errors.js";
import { allocateSchema, parseInput, subnetIdSchema } from "../core/schemas.js";
import { ALLOCATION_CONTRACT } from "../core/allocationContract.js";
import { defaultsOf, inputsThat, requestInputs, type InputName } from "../core/resourceContract.js";
import { parseAddress } from "../core/address.js";
import type { Allocation, AllocationResult } from "../core/types.js";
import { guarded, identityOf, ipam, ipamWithIdentity } from "./connection.js";
import { assertLegacyRow, assertLegacyRowMatches, assertSameDatabase, DATABASE, needsStateUpgrade } from "./databaseIdentity.js";
import { CLAIM, claimOf, isGone, ownerKey, OWNER, SCOPE, STACK } from "./resourceIdentity.js";
import { refuseCrossedIds, refuseUnlessEnded } from "./lostResources.js";
import { knownIssues, knownView } from "./unknowns.js";
import { failuresOf, isUnknown, same, userInputs, type Props } from "./wire.js";

/** What the allocation request is made of (core/allocationContract.ts); `adopt` is the provider's own switch. */
export const ALLOCATION_INPUTS = requestInputs(ALLOCATION_CONTRACT);
/** The explicit adoption switch (pulumi import cannot reach a dynamic provider's Read). */
const ADOPT = "adopt" satisfies InputName<typeof ALLOCATION_CONTRACT>;
const REPLACE_ON = inputsThat(ALLOCATION_CONTRACT, "replace");
const UPDATE_ON = inputsThat(ALLOCATION_CONTRACT, "update");
const DEFAULTS: Props = defaultsOf(ALLOCATION_CONTRACT);

interface Request extends Props {
  subnetId?: unknown;
  address?: string;
  owner: string;
  strategy: string;
  count: number;
  idempotencyKey: string;
}

function request(props: Props): Request {
  const inputs = userInputs(props, ALLOCATION_INPUTS);
  const owner = String(props[OWNER] ?? "");
  const strategy = (inputs.strategy as string | undefined) ?? "sequential";
  return {
    ...inputs,
    owner,
    strategy,
    count: (inputs.count as number | undefined) ?? 1,
    // Equal across retries of one create, so a crash never leaks; what a replacement asks for
    // differently (strategy, address; subnetId scopes keys) gives it a fresh allocation. A forced
    // replacement with equal inputs gets the same allocation back and claims it (README "Claims").
    idempotencyKey: ownerKey(props, `${strategy}:${(inputs.address as string | undefined) ?? ""}`),
  };
}

/**
 * What the engine stores: the allocation, plus the inputs it was made from (outputs overwrite
 * `address`/`count`, and diff compares inputs), the hidden owner, scope, adopt and claim, and the
 * identity of the database that holds it. `props` is either the new inputs (create, update) or the
 * stored outputs (read). A create passes the subnet fields its allocate call returned, so it makes
 * one database round trip.
 */
async function outputs(a: Allocation, props: Props, claim: unknown, database: string, known?: AllocationResult["subnet"]): Promise<Props> {
  const subnet = known ?? (await (await ipam()).getSubnet(a.subnetId));
  const inputs = (props.__inputs as Props | undefined) ?? userInputs(props, ALLOCATION_INPUTS);
  return {
    __inputs: inputs,
    [OWNER]: props[OWNER] ?? a.owner,
    ...(props[SCOPE] === undefined ? {} : { [SCOPE]: props[SCOPE] }),
    ...(props[STACK] === undefined ? {} : { [STACK]: props[STACK] }),
    ...(props[ADOPT] === undefined ? {} : { [ADOPT]: props[ADOPT] }),
    [CLAIM]: claim ?? null,
    [DATABASE]: database,
    allocationId: a.id,
    subnetId: a.subnetId,
    address: a.addresses[0] ?? null,
    addresses: [...a.addresses],
    count: a.addresses.length,
    // How its addresses were chosen: "sequential", "random", or "specific" (an address was given).
    strategy: a.strategy,
    prefixLength: subnet.prefixLength,
    gateway: subnet.gateway ?? null,
    owner: a.owner,
    description: a.description,
    tags: { ...a.tags },
  };
}

/**
 * Validate everything known; in preview, skip exactly what is unknown (unknowns.ts). An unknown
 * subnetId or address still counts as given (`count` beside an address must be 1 either way).
 */
export async function check(_olds: Props, news: Props) {
  const known = knownView(news, { subnetId: "1", address: "192.0.2.1" });
  const issues = knownIssues(known, () => {
    const req = request(known.view);
    parseInput(allocateSchema, { ...req, owner: req.owner || "unknown" });
    if (req.address !== undefined && !isUnknown(news.address)) parseAddress(req.address, "address");
  });
  // An error is built only for issues: building one (message, stack) on every check was a measurable share of the host's CPU.
  const failures = issues.length === 0 ? [] : failuresOf(new InvalidInputError(issues));
  if (news[ADOPT] !== undefined && !isUnknown(news[ADOPT]) && typeof news[ADOPT] !== "boolean") failures.push({ property: ADOPT, reason: "must be a boolean" });
  if (news[ADOPT] === true && news.address === undefined) failures.push({ property: ADOPT, reason: "adopt needs address: the allocation holding it is adopted" });
  return failures.length === 0 ? { inputs: news } : { inputs: news, failures };
}

/** Addresses compare by value ("2001:DB8::1" is "2001:db8::1"); anything unparsable compares as given. */
function canonicalAddress(value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    return parseAddress(value, "address").text;
  } catch {
    return value;
  }
}

export async function diff(_id: string, oldOutputs: Props, news: Props) {
  const olds: Props = { ...((oldOutputs.__inputs as Props | undefined) ?? oldOutputs), subnetId: oldOutputs.subnetId, description: oldOutputs.description, tags: oldOutputs.tags };
  const value = (props: Props, key: string) => (key === "address" ? canonicalAddress(props[key]) : props[key]) ?? DEFAULTS[key];
  const replaces = REPLACE_ON.filter((k) => isUnknown(news[k]) || !same(value(olds, k), value(news, k)));
  // count: the actual size (a refresh may show drift), description/tags: current values.
  olds.count = Array.isArray(oldOutputs.addresses) ? oldOutputs.addresses.length : olds.count;
  const updates = UPDATE_ON.filter((k) => !same(value(olds, k), value(news, k)));
  const oldAddresses = Array.isArray(oldOutputs.addresses) ? (oldOutputs.addresses as string[]) : [];
  const deleteBeforeReplace =
    replaces.length > 0 && typeof news.address === "string" && same(olds.subnetId, news.subnetId) && oldAddresses.includes(String(canonicalAddress(news.address)));
  // State from before database identities (or naming the provider by path) is rewritten by an Update.
  return { changes: replaces.length > 0 || updates.length > 0 || needsStateUpgrade(oldOutputs), replaces, deleteBeforeReplace };
}

/** Idempotent: a retried create (same owner and request) returns the same allocation, claimed anew. */
export async function create(props: Props) {
  // One claim for every attempt: a retry after a lost COMMIT replays the first attempt's allocation
  // (found by its idempotency key) and claims it with the same token.
  const claim = randomUUID();
  return guarded("allocating", async (progress) => {
    const req = request(props);
    const { db, database } = await ipamWithIdentity();
    if (props[ADOPT] === true) {
      const held = await db.whoHolds(String(req.subnetId), String(req.address));
      if (held !== null) {
        const adopted = await db.adoptAllocation({ allocationId: held.id, owner: req.owner, claim });
        progress.committed = `allocation ${adopted.id} (adopted)`;
        return { id: adopted.id, outs: await outputs(adopted, props, claim, database) };
      }
    }
    const { allocation, subnet } = await allocateConverging(db, req, claim);
    // Reading the outputs can still fail: the retry of this call returns this allocation by its key.
    progress.committed = `allocation ${allocation.id} (${allocation.addresses.slice(0, 3).join(", ")}${allocation.addresses.length > 3 ? ", …" : ""})`;
    return { id: allocation.id, outs: await outputs(allocation, props, claim, database, subnet) };
  });
}

/**
 * A create retried after a crash (same key) may ask for another count, description or tags than
 * the attempt that made the allocation. The store refuses another count (IDEMPOTENCY_MISMATCH
 * naming count) and returns description and tags as first stored; converge instead, so outputs
 * match inputs: replay at the stored count (which records this claim), then resize and update.
 * Any other difference (owner, strategy, address) stays a failure.
 */
async function allocateConverging(db: Awaited<ReturnType<typeof ipam>>, req: Request, claim: string) {
  let allocation: Allocation;
  let subnet: AllocationResult["subnet"];
  try {
    ({ allocation, subnet } = await db.allocate({ ...req, claim } as never));
  } catch (error) {
    const { code, fields } = error as { code?: string; fields?: readonly string[] };
    if (code !== "IDEMPOTENCY_MISMATCH" || fields?.length !== 1 || fields[0] !== "count") throw error;
    const earlier = await db.findAllocationByKey(String(req.subnetId), req.idempotencyKey);
    if (earlier === null) throw error;
    ({ allocation, subnet } = await db.allocate({ ...req, count: earlier.addresses.length, claim } as never));
  }
  if (allocation.addresses.length !== req.count) allocation = (await db.resizeAllocation({ allocationId: allocation.id, count: req.count, claim })).allocation;
  const description = (req.description as string | undefined) ?? "";
  const tags = (req.tags as Record<string, string> | undefined) ?? {};
  const sortedTags = (t: Record<string, string>) => JSON.stringify(Object.entries(t).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  if (allocation.description !== description || sortedTags(allocation.tags) !== sortedTags(tags)) {
    allocation = await db.updateAllocation({ allocationId: allocation.id, description, tags, claim });
  }
  return { allocation, subnet };
}

/**
 * Two callers. A refresh passes the stored outputs (they hold `allocationId`): a blank id tells the engine
 * the allocation is gone (released outside Pulumi, or taken over by a newer claimant: a replacement
 * or another stack's adoption); otherwise its live values and refreshed inputs (see the subnet's
 * `refreshedInputs`: ignoreChanges resets to the old inputs, so they must hold the live tags). A `get`
 * (`IpAllocation.get`, or `new IpAllocation(name, args, { id })`) passes only the program's
 * registration: the live values, or a clear NOT_FOUND failure; it claims nothing and never takes over.
 */
export async function read(id: string, props: Props) {
  return guarded("reading an allocation", async () => {
    // Stored outputs always hold allocationId (every release wrote it); a get's registration never does.
    const db = await ipam();
    if (props.allocationId === undefined) {
      const a = await db.getAllocation(id);
      const { __inputs: _, [CLAIM]: __, ...live } = await outputs(a, { [OWNER]: a.owner }, null, await identityOf(db));
      return { id, props: live };
    }
    const database = await assertSameDatabase(db, props);
    try {
      const a = await db.getAllocation(id);
      if (isGone(a.claim, props)) return { id: "", props: {} };
      await assertLegacyRowMatches(db, props, "allocation", legacyProblem(a, props));
      refuseCrossedIds("allocation", id, crossedProblem(a, props), props);
      // State from a release that kept no __inputs: the engine keeps the inputs it has.
      if (props.__inputs === undefined) return { id, props: await outputs(a, props, claimOf(props), database) };
      const old = props.__inputs as Props;
      const inputs: Props = { ...old, description: a.description, tags: { ...a.tags }, ...("count" in old ? { count: a.addresses.length } : {}) };
      for (const hidden of [OWNER, SCOPE, STACK, ADOPT]) if (props[hidden] !== undefined) inputs[hidden] = props[hidden];
      return { id, props: await outputs(a, { ...props, __inputs: userInputs(inputs, ALLOCATION_INPUTS) }, claimOf(props), database), inputs };
    } catch (error) {
      if ((error as { code?: string }).code !== "NOT_FOUND") throw error;
      // Gone, unless the state predates identities: then this may be the wrong database, and saying
      // "gone" would drop a live resource from the stack.
      await assertLegacyRowMatches(db, props, "allocation", "there is no allocation with that id");
      await refuseUnlessEnded(db, "allocation", id, props);
      return { id: "", props: {} };
    }
  });
}

/** count up keeps existing addresses and adds; count down releases the highest. */
export async function update(id: string, olds: Props, news: Props) {
  return guarded("updating an allocation", async () => {
    const db = await ipam();
    const database = await assertSameDatabase(db, olds);
    await assertLegacyAllocation(db, id, olds);
    const count = (news.count as number | undefined) ?? 1;
    // A newer claimant (a replacement, another stack's adoption) holds it: SUPERSEDED, nothing changes.
    const claim = claimOf(olds) === undefined ? {} : { claim: claimOf(olds)! };
    if (!Array.isArray(olds.addresses) || olds.addresses.length !== count) await db.resizeAllocation({ allocationId: id, count, ...claim });
    const a = await db.updateAllocation({
      allocationId: id,
      description: (news.description as string | undefined) ?? "",
      tags: (news.tags as Record<string, string> | undefined) ?? {},
      ...claim,
    });
    return { outs: await outputs(a, news, claimOf(olds), database) };
  });
}

/** Release, unless a newer claimant (a replacement of this resource) holds the allocation now. */
export async function remove(id: string, props: Props = {}) {
  return guarded("releasing an allocation", async () => {
    const db = await ipam();
    await assertSameDatabase(db, props);
    await assertLegacyAllocation(db, id, props);
    const claim = claimOf(props);
    // The subnet its state records: the store locks it at once instead of looking the allocation up first (checked under the lock).
    const subnetId = subnetIdSchema.safeParse(props.subnetId).success ? { subnetId: props.subnetId as string } : {};
    await db.release(id, { ...(claim === undefined ? {} : { claim }), ...subnetId });
  });
}

/** What makes the row under this id not the allocation a pre-identity resource made, or null. */
function legacyProblem(a: Allocation, props: Props): string | null {
  if (typeof props.subnetId === "string" && props.subnetId !== a.subnetId) return `it is in subnet ${a.subnetId}, not ${props.subnetId}`;
  if (typeof props[OWNER] === "string" && props[OWNER] !== a.owner) return `it is held by ${a.owner}, not ${String(props[OWNER])}`;
  return null;
}

/** Pre-identity state only: refuse a row that is not this resource's (a missing or superseded one is left to the call). */
function assertLegacyAllocation(db: Awaited<ReturnType<typeof ipam>>, id: string, props: Props): Promise<void> {
  return assertLegacyRow(db, props, "allocation", () => db.getAllocation(id), (row) => legacyProblem(row, props));
}

/** What makes the row under this id another holder's (ids issued again after a restore), or null. */
function crossedProblem(a: Allocation, props: Props): string | null {
  if (typeof props.subnetId === "string" && props.subnetId !== a.subnetId) return `it is in subnet ${a.subnetId}, not ${props.subnetId}`;
  if (typeof props.owner === "string" && props.owner !== a.owner) return `it is held by ${a.owner}`;
  return null;
}

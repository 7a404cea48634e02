import { randomUUID } from "node:crypto";
import { SubnetInUseError } from "../core/errors.js";
import { createSubnetSchema, parseInput } from "../core/schemas.js";
import { parseCidr } from "../core/address.js";
import { parseSubnetLayout } from "../core/subnetLayout.js";
import { assertChildRules } from "../core/prefixPolicy.js";
import type { Subnet } from "../core/types.js";
import { guarded, ipam } from "./connection.js";
import { CLAIM, claimOf, isGone, ownerKey, OWNER, SCOPE } from "./resourceIdentity.js";
import { failuresOf, hasUnknown, isUnknown, same, userInputs, type Props } from "./wire.js";

export const SUBNET_INPUTS = [
  "cidr",
  "namespace",
  "parentId",
  "prefixLength",
  "strategy",
  "allocationPools",
  "gateway",
  "reserved",
  "description",
  "tags",
  "childrenOnly",
  "minPrefixLength",
  "maxPrefixLength",
  "defaultPrefixLength",
] as const;
/** Changed in place by updateSubnet; everything else that matters (cidr, namespace, parentId, prefixLength) replaces. */
const UPDATE_ON = ["allocationPools", "gateway", "reserved", "description", "tags", "childrenOnly", "minPrefixLength", "maxPrefixLength", "defaultPrefixLength"] as const;
const UPDATE_DEFAULTS: Props = { allocationPools: null, gateway: null, reserved: [], description: "", tags: {}, childrenOnly: false, minPrefixLength: null, maxPrefixLength: null, defaultPrefixLength: null };

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
    __poolsExplicit: subnet.allocationPoolsExplicit,
  };
}

/** Outputs plus what the engine must keep: the inputs (diff compares them) and the hidden owner, scope and claim. */
function stored(subnet: Subnet, inputs: Props, hidden: Props, claim: string | undefined): Props {
  return {
    ...subnetOutputs(subnet),
    __inputs: inputs,
    ...(hidden[OWNER] === undefined ? {} : { [OWNER]: hidden[OWNER] }),
    ...(hidden[SCOPE] === undefined ? {} : { [SCOPE]: hidden[SCOPE] }),
    [CLAIM]: claim ?? null,
  };
}

/** Validate with the core's schema and layout rules; never touches the database. */
export async function check(_olds: Props, news: Props) {
  if (hasUnknown(news)) return { inputs: news, failures: [] };
  try {
    const parsed = parseInput(createSubnetSchema, userInputs(news, SUBNET_INPUTS));
    // A carved child's CIDR is chosen at create: only a given one has a layout and rules to check now.
    if (parsed.cidr !== undefined) {
      const layout = parseSubnetLayout(parsed.cidr, parsed);
      const rule = (key: "minPrefixLength" | "maxPrefixLength" | "defaultPrefixLength") => parsed[key] ?? null;
      assertChildRules(layout.cidr, { minPrefixLength: rule("minPrefixLength"), maxPrefixLength: rule("maxPrefixLength"), defaultPrefixLength: rule("defaultPrefixLength") });
    }
  } catch (error) {
    return { inputs: news, failures: failuresOf(error) };
  }
  return { inputs: news };
}

export async function diff(_id: string, olds: Props, news: Props) {
  const oldInputs = (olds.__inputs as Props | undefined) ?? {};
  const replaces: string[] = [];
  // cidr and prefixLength compare with what the subnet is (canonical), when the program names them.
  if (isUnknown(news.cidr) || (news.cidr !== undefined ? canonicalCidr(news.cidr) !== olds.cidr : oldInputs.cidr !== undefined)) replaces.push("cidr");
  if ((oldInputs.namespace ?? "default") !== (news.namespace ?? "default")) replaces.push("namespace");
  if (isUnknown(news.parentId) || (olds.parentId ?? null) !== (news.parentId ?? null)) replaces.push("parentId");
  if (isUnknown(news.prefixLength) || (news.prefixLength !== undefined && news.prefixLength !== olds.prefixLength)) replaces.push("prefixLength");
  // The rest compares with current outputs (a refresh brings in edits made outside Pulumi), absent inputs as defaults.
  const updates = UPDATE_ON.filter((k) => (k === "allocationPools" ? poolsChanged(olds, news) : !same(olds[k] ?? UPDATE_DEFAULTS[k], news[k] ?? UPDATE_DEFAULTS[k])));
  return {
    changes: replaces.length > 0 || updates.length > 0,
    replaces,
    deleteBeforeReplace: replaces.length > 0 && collides(olds, news),
  };
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
      const what = inputs.parentId === undefined ? `${inputs.namespace ?? "default"}:${String(canonicalCidr(inputs.cidr))}` : `child:${String(inputs.cidr ?? `/${inputs.prefixLength ?? "default"}`)}`;
      const key = props[OWNER] === undefined ? {} : { idempotencyKey: ownerKey(props, what) };
      const subnet = await (await ipam()).createSubnet({ ...inputs, ...key, claim } as never);
      return { id: subnet.id, outs: stored(subnet, inputs, props, claim) };
    },
    // Without an owner (not made by the SDK) there is no identity to make a key from, so a lost
    // COMMIT is reported instead of retried (a retry could carve a second child).
    { idempotent: props[OWNER] !== undefined },
  );
}

/** Refresh: a blank id when the subnet is gone, or a newer claimant (a replacement) holds it. */
export async function read(id: string, props: Props) {
  return guarded("reading a subnet", async () => {
    try {
      const subnet = await (await ipam()).getSubnet(id);
      if (isGone(subnet.claim, props)) return { id: "", props: {} };
      return { id, props: stored(subnet, (props.__inputs as Props | undefined) ?? {}, props, claimOf(props)) };
    } catch (error) {
      if ((error as { code?: string }).code === "NOT_FOUND") return { id: "", props: {} };
      throw error;
    }
  });
}

export async function update(id: string, olds: Props, news: Props) {
  return guarded("updating a subnet", async () => {
    const next = userInputs(news, SUBNET_INPUTS);
    const patch: Props = {};
    for (const k of UPDATE_ON) patch[k] = next[k] ?? UPDATE_DEFAULTS[k];
    // A newer claimant (a replacement) holds it: SUPERSEDED, nothing changes.
    const claim = claimOf(olds);
    const { subnet } = await (await ipam()).updateSubnet(id, patch as never, claim === undefined ? {} : { claim });
    return { outs: stored(subnet, next, news, claimOf(olds)) };
  });
}

/** Delete, unless a newer claimant (a replacement of this resource) holds the subnet now. */
export async function remove(id: string, props: Props = {}) {
  return guarded("deleting a subnet", async () => {
    const db = await ipam();
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

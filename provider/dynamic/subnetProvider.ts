import { SubnetInUseError } from "../core/errors.js";
import { createSubnetSchema, parseInput } from "../core/schemas.js";
import { parseCidr } from "../core/address.js";
import { parseSubnetLayout } from "../core/subnetLayout.js";
import type { Subnet } from "../core/types.js";
import { guarded, ipam } from "./connection.js";
import { failuresOf, hasUnknown, same, userInputs, type Props } from "./wire.js";

export const SUBNET_INPUTS = ["cidr", "namespace", "allocationPools", "gateway", "reserved", "description", "tags"] as const;
/** Inputs whose change needs a new subnet; parentId/prefixLength join these when child subnets land. */
const REPLACE_ON = ["cidr", "namespace"] as const;
const UPDATE_ON = ["allocationPools", "gateway", "reserved", "description", "tags"] as const;

export function subnetOutputs(subnet: Subnet): Props {
  return {
    subnetId: subnet.id,
    cidr: subnet.cidr,
    namespace: subnet.namespace,
    ipVersion: subnet.ipVersion,
    size: subnet.size,
    gateway: subnet.gateway ?? null,
    allocationPools: subnet.allocationPools.map((p) => ({ start: p.start, end: p.end })),
    reserved: [...subnet.reserved],
    description: subnet.description,
    tags: { ...subnet.tags },
    __poolsExplicit: subnet.allocationPoolsExplicit,
  };
}

/** Validate with the core's schema and layout rules; never touches the database. */
export async function check(_olds: Props, news: Props) {
  const inputs = userInputs(news, SUBNET_INPUTS);
  if (hasUnknown(news)) return { inputs: news, failures: [] };
  try {
    const parsed = parseInput(createSubnetSchema, inputs);
    parseSubnetLayout(parsed.cidr, parsed);
  } catch (error) {
    return { inputs: news, failures: failuresOf(error) };
  }
  return { inputs: news };
}

export async function diff(_id: string, olds: Props, news: Props) {
  const replaces = REPLACE_ON.filter((k) => !same(olds[k] ?? defaults[k], news[k] ?? defaults[k]));
  // Compare with current outputs (a refresh brings in edits made outside Pulumi), absent inputs as defaults.
  const updates = UPDATE_ON.filter((k) => (k === "allocationPools" ? poolsChanged(olds, news) : !same(olds[k] ?? updateDefaults[k], news[k] ?? updateDefaults[k])));
  return {
    changes: replaces.length > 0 || updates.length > 0,
    replaces,
    deleteBeforeReplace: replaces.length > 0 && overlapsInNamespace(olds, news),
  };
}

const defaults: Props = { namespace: "default" };
const updateDefaults: Props = { gateway: null, reserved: [], description: "", tags: {} };

function poolsChanged(olds: Props, news: Props): boolean {
  if (news.allocationPools === undefined) return olds.__poolsExplicit === true;
  return !same(olds.allocationPools, news.allocationPools);
}

/** The old subnet must go first when the new one would collide with it (same namespace, overlapping range). */
function overlapsInNamespace(olds: Props, news: Props): boolean {
  if ((olds.namespace ?? "default") !== (news.namespace ?? "default")) return false;
  try {
    const a = parseCidr(olds.cidr, "cidr");
    const b = parseCidr(news.cidr, "cidr");
    return a.version === b.version && a.first <= b.last && b.first <= a.last;
  } catch {
    return false;
  }
}

export async function create(inputs: Props) {
  return guarded("creating a subnet", async () => {
    const subnet = await (await ipam()).createSubnet(userInputs(inputs, SUBNET_INPUTS) as never);
    return { id: subnet.id, outs: { ...subnetOutputs(subnet), __inputs: userInputs(inputs, SUBNET_INPUTS) } };
  });
}

export async function read(id: string, props: Props) {
  return guarded("reading a subnet", async () => {
    const db = await ipam();
    try {
      const subnet = await db.getSubnet(id);
      return { id, props: { ...subnetOutputs(subnet), __inputs: props.__inputs ?? {} } };
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
    for (const k of UPDATE_ON) patch[k] = next[k] ?? (k === "allocationPools" ? null : k === "reserved" ? [] : k === "description" ? "" : k === "tags" ? {} : null);
    const { subnet } = await (await ipam()).updateSubnet(id, patch as never);
    void olds;
    return { outs: { ...subnetOutputs(subnet), __inputs: next } };
  });
}

export async function remove(id: string) {
  return guarded("deleting a subnet", async () => {
    const db = await ipam();
    try {
      await db.deleteSubnet(id);
    } catch (error) {
      if (!(error instanceof SubnetInUseError)) throw error;
      // Name every holder (owner = project/stack/resource), so the user knows which stacks to destroy first.
      const { allocations } = await db.listAllocations({ subnetId: id }, { limit: 50 });
      const names = allocations.map((a) => `${a.owner} (${a.addresses.join(", ")})`);
      throw new SubnetInUseError(id, error.allocationCount, names);
    }
  });
}

import { allocateSchema, parseInput } from "../core/schemas.js";
import { parseAddress } from "../core/address.js";
import type { Allocation } from "../core/types.js";
import { guarded, ipam } from "./connection.js";
import { failuresOf, hasUnknown, isUnknown, same, userInputs, type Props } from "./wire.js";

export const ALLOCATION_INPUTS = ["subnetId", "address", "count", "strategy", "description", "tags"] as const;
/** Hidden inputs the SDK adds: the owner (project/stack/name) and the explicit adoption switch. */
const OWNER = "__owner";
const ADOPT = "adopt";
const REPLACE_ON = ["subnetId", "address", "strategy"] as const;

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
    // Differs between the old and new resource of a create-before-delete replacement, so the new one
    // never gets the old allocation back; equal across retries of one create, so a crash never leaks.
    idempotencyKey: `${owner}#${strategy}:${(inputs.address as string | undefined) ?? ""}`,
  };
}

async function outputs(a: Allocation, props: Props): Promise<Props> {
  const subnet = await (await ipam()).getSubnet(a.subnetId);
  return {
    // Outputs overwrite `address`/`count`: keep the requested inputs for diff.
    __inputs: userInputs(props, ALLOCATION_INPUTS),
    [OWNER]: props[OWNER] ?? a.owner,
    ...(props[ADOPT] === undefined ? {} : { [ADOPT]: props[ADOPT] }),
    allocationId: a.id,
    subnetId: a.subnetId,
    address: a.addresses[0] ?? null,
    addresses: [...a.addresses],
    count: a.addresses.length,
    prefixLength: subnet.prefixLength,
    gateway: subnet.gateway ?? null,
    owner: a.owner,
    description: a.description,
    tags: { ...a.tags },
  };
}

export async function check(_olds: Props, news: Props) {
  if (hasUnknown(news)) return { inputs: news, failures: [] };
  try {
    const req = request(news);
    parseInput(allocateSchema, { ...req, owner: req.owner || "unknown" });
    if (req.address !== undefined) parseAddress(req.address, "address");
    if (news[ADOPT] !== undefined && typeof news[ADOPT] !== "boolean") return { inputs: news, failures: [{ property: ADOPT, reason: "must be a boolean" }] };
    if (news[ADOPT] === true && req.address === undefined) return { inputs: news, failures: [{ property: ADOPT, reason: "adopt needs address: the allocation holding it is adopted" }] };
  } catch (error) {
    return { inputs: news, failures: failuresOf(error) };
  }
  return { inputs: news };
}

export async function diff(_id: string, oldOutputs: Props, news: Props) {
  const olds: Props = { ...((oldOutputs.__inputs as Props | undefined) ?? oldOutputs), subnetId: oldOutputs.subnetId, description: oldOutputs.description, tags: oldOutputs.tags };
  const replaces = REPLACE_ON.filter((k) => isUnknown(news[k]) || !same(olds[k] ?? (k === "strategy" ? "sequential" : undefined), news[k] ?? (k === "strategy" ? "sequential" : undefined)));
  // count: the actual size (a refresh may show drift), description/tags: current values.
  olds.count = Array.isArray(oldOutputs.addresses) ? oldOutputs.addresses.length : olds.count;
  const updates = ["count", "description", "tags"].filter((k) => !same(olds[k] ?? (k === "count" ? 1 : k === "tags" ? {} : ""), news[k] ?? (k === "count" ? 1 : k === "tags" ? {} : "")));
  const oldAddresses = Array.isArray(oldOutputs.addresses) ? (oldOutputs.addresses as string[]) : [];
  const deleteBeforeReplace =
    replaces.length > 0 && typeof news.address === "string" && same(olds.subnetId, news.subnetId) && oldAddresses.includes(news.address);
  return { changes: replaces.length > 0 || updates.length > 0, replaces, deleteBeforeReplace };
}

/** Idempotent: a retried create (same owner and request) returns the same allocation. */
export async function create(props: Props) {
  return guarded("allocating", async () => {
    const db = await ipam();
    const req = request(props);
    if (props[ADOPT] === true) {
      const held = await db.whoHolds(String(req.subnetId), String(req.address));
      if (held !== null) return { id: held.id, outs: await outputs(held, props) };
    }
    const { allocation } = await db.allocate(req as never);
    return { id: allocation.id, outs: await outputs(allocation, props) };
  });
}

/** Refresh: a blank id tells the engine the allocation is gone (released outside Pulumi). */
export async function read(id: string, props: Props) {
  return guarded("reading an allocation", async () => {
    try {
      const a = await (await ipam()).getAllocation(id);
      return { id, props: await outputs(a, props) };
    } catch (error) {
      if ((error as { code?: string }).code === "NOT_FOUND") return { id: "", props: {} };
      throw error;
    }
  });
}

/** count up keeps existing addresses and adds; count down releases the highest. */
export async function update(id: string, olds: Props, news: Props) {
  return guarded("updating an allocation", async () => {
    const db = await ipam();
    const count = (news.count as number | undefined) ?? 1;
    if (!Array.isArray(olds.addresses) || olds.addresses.length !== count) await db.resizeAllocation({ allocationId: id, count });
    const a = await db.updateAllocation({
      allocationId: id,
      description: (news.description as string | undefined) ?? "",
      tags: (news.tags as Record<string, string> | undefined) ?? {},
    });
    return { outs: await outputs(a, news) };
  });
}

export async function remove(id: string) {
  return guarded("releasing an allocation", async () => {
    await (await ipam()).release(id);
  });
}

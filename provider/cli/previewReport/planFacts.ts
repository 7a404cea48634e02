import { parseAddress } from "../../core/address.js";
import type { SubnetSpace } from "../../core/addressForecast.js";
import type { FactsRequest, SubnetFacts } from "../../store/reports/index.js";
import { countInput, oldSubnetId, type IpamStep } from "./ipamSteps.js";
import { known } from "./pulumiPreview.js";

/** Between the plan and the database: what to read for a plan's steps, and a subnet's facts as forecast space. */

/** What to read: every subnet a step names by id, how many addresses it may take, whose holders matter. */
export function requestsFor(steps: readonly IpamStep[]): FactsRequest[] {
  const requests = new Map<string, { subnetId: string; demand: number; addresses: string[]; allocations: boolean }>();
  const need = (id: string) => requests.get(id) ?? requests.set(id, { subnetId: id, demand: 0, addresses: [], allocations: false }).get(id)!;
  for (const step of steps) {
    const oldId = oldSubnetId(step);
    if (oldId !== undefined) need(oldId).allocations ||= step.kind === "Subnet";
    const newId = known(step.inputs[step.kind === "Subnet" ? "parentId" : "subnetId"]);
    if (newId === undefined) continue;
    const request = need(newId);
    if (step.kind === "Subnet") request.allocations = true;
    const count = countInput(step.inputs);
    if (step.kind === "IpAllocation" && count !== "unknown") request.demand += count;
    const address = canonical(step.inputs.address);
    if (address !== undefined) request.addresses.push(address);
  }
  return [...requests.values()];
}

export function canonical(value: unknown): string | undefined {
  try {
    return known(value) === undefined ? undefined : parseAddress(value, "address").text;
  } catch {
    return undefined;
  }
}

export const parsed = (addresses: readonly string[]) =>
  addresses.flatMap((text) => {
    try {
      return [parseAddress(text, "address")];
    } catch {
      return [];
    }
  });

/** Holders: the asked-for addresses' and, when every allocation was read, all of them. */
export function spaceOf(key: string, f: SubnetFacts): SubnetSpace {
  const holders = new Map<string, string>(f.holders);
  for (const a of f.allocations) for (const address of a.addresses) holders.set(address, a.owner);
  return {
    key,
    cidr: f.layout.cidr,
    free: f.free,
    freeTotal: f.freeTotal,
    available: f.layout.available,
    poolSize: BigInt(f.usage.poolSize),
    allocated: BigInt(f.usage.allocated),
    childrenOnly: f.subnet.childrenOnly,
    holders,
    childSpace: f.childSpace,
    holdSeconds: f.subnet.releaseHoldSeconds,
    holds: f.holds,
  };
}


import { parseCidr, type Cidr } from "../../core/address.js";
import { ALLOCATION_CONTRACT } from "../../core/allocationContract.js";
import { inputsThat, type ResourceContract } from "../../core/resourceContract.js";
import { SUBNET_CONTRACT } from "../../core/subnetContract.js";
import { AddressForecast, isPredictedFailure } from "../../core/addressForecast.js";
import { subtractRanges, totalSize } from "../../core/range.js";
import { subnetEditEffects } from "../../core/subnetEditForecast.js";
import { buildLayout } from "../../core/subnetLayout.js";
import type { FactsRequest, SubnetFacts } from "../../store/reports/index.js";
import { countInput, heldAddresses, isHidden, oldSubnetId, ownerOf, type IpamStep } from "./ipamSteps.js";
import { canonical, parsed, requestsFor, spaceOf } from "./planFacts.js";
import { known, SECRET, UNKNOWN } from "./pulumiPreview.js";
import { fail, PREDICTION_NOTE, record, type PreviewReport, type ReportEntry } from "./reportEntry.js";
import { subnetChange } from "./subnetChange.js";

export { PREDICTION_NOTE, type PreviewReport, type ReportEntry, type ReportFailure } from "./reportEntry.js";

/**
 * The report of a preview: each IPAM step replayed, in the order the engine runs them, over a copy of
 * the subnets' free space read now (AddressForecast). Order: releases of delete-before-replace
 * replacements first (the engine deletes before it creates: step_generator.go, continueStepsFromDiff),
 * then every step in the digest's order (the program's registration order), then the deletes and the
 * old halves of create-before-delete replacements, which the engine runs after all other steps
 * (step_generator.go, GenerateDeletes).
 */

export type FactsReader = (requests: FactsRequest[]) => Promise<Map<string, SubnetFacts>>;

const dbKey = (id: string) => `id:${id}`;
const planKey = (urn: string) => `urn:${urn}`;

export async function planPreview(steps: readonly IpamStep[], readFacts: FactsReader): Promise<PreviewReport> {
  const requests = requestsFor(steps);
  // A plan that names no existing subnet (a new stack's first preview) needs no database.
  const facts = requests.length === 0 ? new Map<string, SubnetFacts>() : await readFacts(requests);
  return new Planner(steps, facts).run();
}

class Planner {
  private readonly forecast = new AddressForecast([]);
  private readonly entries = new Map<IpamStep, ReportEntry>();
  private readonly released = new Set<IpamStep>();
  private readonly deleted = new Set<string>();
  private readonly created = new Set<string>();
  /** Allocation ids this plan gives back (deletes, replacements): a subnet that holds only these may go. */
  private readonly leaving = new Set<string>();
  /** Subnets this plan removes (replace or delete), by their old id. */
  private readonly goingSubnets = new Set<string>();

  constructor(
    private readonly steps: readonly IpamStep[],
    private readonly facts: ReadonlyMap<string, SubnetFacts>,
  ) {
    for (const [id, f] of facts) this.forecast.add(spaceOf(dbKey(id), f));
    for (const step of steps) {
      const releases = step.action === "delete" || step.action === "release-half" || (step.action === "replace" && !this.claimsSame(step));
      if (!releases) continue;
      if (step.kind === "IpAllocation") this.leaving.add(String(step.old?.outputs?.allocationId ?? ""));
      else if (oldSubnetId(step) !== undefined) this.goingSubnets.add(oldSubnetId(step)!);
    }
  }

  run(): PreviewReport {
    for (const step of this.steps) this.entries.set(step, this.blankEntry(step));
    for (const step of this.steps) if (step.action === "replace" && this.releasesFirst(step)) this.release(step);
    for (const step of this.steps) this.apply(step);
    for (const step of this.steps) if (step.action === "delete" || step.action === "replace") this.release(step);
    const entries = [...this.entries.values()];
    const failures = entries.flatMap((e) => (e.failure === undefined ? [] : [{ resource: e.resource, ...e.failure }]));
    const subnets = this.forecast.utilisation().map((u) => subnetChange(u, this.deleted.has(u.key), this.created.has(u.key)));
    return { prediction: PREDICTION_NOTE, entries, subnets, failures };
  }

  private blankEntry(step: IpamStep): ReportEntry {
    return { resource: step.name, kind: step.kind, op: step.op, subnet: null, released: [], taken: [], random: 0, kept: [], outsidePools: [], notes: [] };
  }

  /**
   * A replacement whose replacing inputs (the contract's: subnet, address, strategy; a subnet's CIDR,
   * namespace, parent, size) are all unchanged, as `--replace` makes it, asks with the same
   * idempotency key: it gets the same allocation or subnet back and claims it.
   */
  private claimsSame(step: IpamStep): boolean {
    const olds = step.old?.inputs ?? {};
    const contract: ResourceContract = step.kind === "IpAllocation" ? ALLOCATION_CONTRACT : SUBNET_CONTRACT;
    const value = (props: Record<string, unknown>, k: string) => JSON.stringify(props[k] ?? contract.inputs[k]!.default ?? null);
    return inputsThat(contract, "replace").every((k) => !isHidden(step.inputs[k]) && value(olds, k) === value(step.inputs, k));
  }

  /** Delete-before-replace: the allocation's subnet is going (dependents go first), or it asks for an address it holds. */
  private releasesFirst(step: IpamStep): boolean {
    if (step.kind !== "IpAllocation" || this.claimsSame(step)) return false;
    const oldId = oldSubnetId(step);
    if (oldId !== undefined && this.goingSubnets.has(oldId)) return true;
    const address = canonical(step.inputs.address);
    return address !== undefined && known(step.inputs.subnetId) === oldId && heldAddresses(step.old).includes(address);
  }

  private apply(step: IpamStep): void {
    const entry = this.entries.get(step)!;
    if (step.kind === "IpAllocation") {
      if (step.action === "create" || step.action === "take-half") this.take(step, entry);
      else if (step.action === "release-half") this.release(step);
      else if (step.action === "update") this.resize(step, entry);
      else if (step.action === "replace") {
        if (this.claimsSame(step)) {
          entry.kept = heldAddresses(step.old);
          entry.subnet = this.cidrText(oldSubnetId(step));
          entry.notes.push("the replacement gets the same allocation back and claims it; the old one's delete frees nothing");
          this.resize(step, entry);
        } else this.take(step, entry);
      }
      return;
    }
    if (step.action === "create" || step.action === "take-half" || step.action === "replace") this.createSubnet(step, entry);
    else if (step.action === "update") this.editSubnet(step, entry);
    else this.release(step);
  }

  private cidrText(id: string | undefined): string | null {
    return id === undefined ? null : (this.forecast.cidrOf(dbKey(id))?.text ?? null);
  }

  /** Where a new allocation (or child) goes: a subnet by its known id, or one this plan creates (wired through its URN). */
  private target(step: IpamStep, field: "subnetId" | "parentId"): string | { missing: string } | undefined {
    const id = known(step.inputs[field]);
    if (id !== undefined) return this.forecast.has(dbKey(id)) ? dbKey(id) : { missing: id };
    return (step.dependencies[field] ?? []).map(planKey).find((key) => this.forecast.has(key));
  }

  private take(step: IpamStep, entry: ReportEntry): void {
    const key = this.target(step, "subnetId");
    if (key === undefined) return void entry.notes.push("its subnet is known only when the update runs: not predicted");
    if (typeof key !== "string") return fail(entry, "NOT_FOUND", `subnet ${String(step.inputs.subnetId)} does not exist`);
    entry.subnet = this.forecast.cidrOf(key)!.text;
    const count = countInput(step.inputs);
    if (count === "unknown") return void entry.notes.push("its count is known only when the update runs: not predicted");
    const address = step.inputs.address;
    if (address === SECRET) return void entry.notes.push("a specific address, secret: not shown or checked");
    if (address === UNKNOWN) return void entry.notes.push("a specific address known only when the update runs: not predicted");
    const owner = ownerOf(step);
    if (address !== undefined && address !== null) {
      const [parsedAddress] = parsed([String(address)]);
      if (parsedAddress === undefined) return fail(entry, "INVALID_INPUT", "address is not an IP address");
      if (step.inputs.adopt === true) {
        entry.kept = [parsedAddress.text];
        return void entry.notes.push("adopts the allocation holding it, if there is one (else allocates it)");
      }
      return record(entry, this.forecast.takeSpecific(key, parsedAddress, owner));
    }
    const strategy = known(step.inputs.strategy) === "random" ? "random" : "sequential";
    record(entry, this.forecast.take(key, count, strategy, owner));
  }

  /** count up adds addresses with the allocation's strategy; count down releases its highest. */
  private resize(step: IpamStep, entry: ReportEntry): void {
    const held = heldAddresses(step.old);
    const oldId = oldSubnetId(step);
    entry.subnet ??= this.cidrText(oldId);
    const count = countInput(step.inputs);
    if (count === "unknown") return void entry.notes.push("its count is known only when the update runs: not predicted");
    if (oldId === undefined || !this.forecast.has(dbKey(oldId))) return;
    if (count > held.length) {
      const strategy = step.old?.outputs?.strategy;
      if (strategy === "specific") return fail(entry, "INVALID_INPUT", "count: an allocation of a specific address holds exactly one address");
      record(entry, this.forecast.take(dbKey(oldId), count - held.length, strategy === "random" ? "random" : "sequential", ownerOf(step)));
    } else if (count < held.length) {
      entry.released = held.slice(count);
      this.forecast.release(dbKey(oldId), parsed(entry.released), ownerOf(step));
    }
  }

  /** Give back what the old resource holds (once): an allocation's addresses; a subnet leaves if nothing else holds it. */
  private release(step: IpamStep): void {
    if (this.released.has(step) || (step.action === "replace" && this.claimsSame(step))) return;
    this.released.add(step);
    const entry = this.entries.get(step)!;
    const oldId = oldSubnetId(step);
    if (step.kind === "IpAllocation") {
      entry.released = heldAddresses(step.old);
      entry.subnet ??= this.cidrText(oldId);
      if (oldId !== undefined) this.forecast.release(dbKey(oldId), parsed(entry.released), ownerOf(step));
      return;
    }
    if (oldId === undefined) return;
    const f = this.facts.get(oldId);
    if (f === undefined) return;
    entry.subnet ??= f.subnet.cidr;
    this.deleted.add(dbKey(oldId));
    const others = f.allocations.filter((a) => !this.leaving.has(a.id));
    if (others.length > 0) {
      const names = others.slice(0, 5).map((a) => `${a.owner} (${a.addresses.slice(0, 3).join(", ")}${a.addresses.length > 3 ? ", …" : ""})`);
      fail(entry, "SUBNET_IN_USE", `${f.subnet.cidr} still holds ${others.length} allocation(s) this plan does not release: ${names.join("; ")}${others.length > 5 ? "; …" : ""}`);
    }
    const wired = this.steps.filter((s) => s !== step && s.kind === "IpAllocation" && oldSubnetId(s) === oldId).map((s) => `${s.name} (${s.op})`);
    if (wired.length > 0) entry.notes.push(`wired to it: ${wired.join(", ")}`);
  }

  private createSubnet(step: IpamStep, entry: ReportEntry): void {
    if (step.action === "replace" && this.claimsSame(step)) {
      entry.cidr = this.cidrText(oldSubnetId(step)) ?? undefined;
      return void entry.notes.push("the replacement gets the same subnet back and claims it");
    }
    if (step.action === "replace") this.release(step);
    let cidr: Cidr | undefined;
    const cidrInput = known(step.inputs.cidr);
    const parent = step.inputs.parentId === undefined || step.inputs.parentId === null ? undefined : this.target(step, "parentId");
    if (parent !== undefined && typeof parent !== "string") return fail(entry, "NOT_FOUND", `parent subnet ${String(step.inputs.parentId)} does not exist`);
    if (parent !== undefined) {
      entry.subnet = this.forecast.cidrOf(parent)!.text;
      const length = typeof step.inputs.prefixLength === "number" ? step.inputs.prefixLength : this.defaultPrefixLength(parent);
      const carved = cidrInput !== undefined ? this.forecast.carveSpecific(parent, parseCidr(cidrInput, "cidr")) : length === undefined ? undefined : this.forecast.carve(parent, length);
      if (carved === undefined) return void entry.notes.push("its prefix length is known only when the update runs: not predicted");
      if (isPredictedFailure(carved)) return record(entry, carved);
      cidr = carved;
    } else if (cidrInput !== undefined) cidr = parseCidr(cidrInput, "cidr");
    if (cidr === undefined) return void entry.notes.push("its CIDR is known only when the update runs: not predicted");
    entry.cidr = cidr.text;
    const layout = this.layoutOf(step, cidr, entry);
    if (layout === undefined) return;
    const key = planKey(step.urn);
    this.created.add(key);
    this.forecast.add({
      key,
      cidr,
      free: layout.available,
      freeTotal: totalSize(layout.available),
      available: layout.available,
      poolSize: totalSize(layout.available),
      allocated: 0n,
      childrenOnly: step.inputs.childrenOnly === true,
      holders: new Map(),
      holdSeconds: typeof step.inputs.releaseHoldSeconds === "number" ? step.inputs.releaseHoldSeconds : 0,
      childSpace: subtractRanges([cidr], [...(layout.gateway === null ? [] : [{ first: layout.gateway.value, last: layout.gateway.value }]), ...layout.reserved]),
    });
  }

  private defaultPrefixLength(parent: string): number | undefined {
    if (parent.startsWith("id:")) return this.facts.get(parent.slice(3))?.subnet.defaultPrefixLength ?? undefined;
    const value = this.steps.find((s) => planKey(s.urn) === parent)?.inputs.defaultPrefixLength;
    return typeof value === "number" ? value : undefined;
  }

  private layoutOf(step: IpamStep, cidr: Cidr, entry: ReportEntry) {
    const fields = { allocationPools: step.inputs.allocationPools ?? null, gateway: step.inputs.gateway ?? null, reserved: step.inputs.reserved ?? [] };
    const text = JSON.stringify(fields);
    if (text.includes(UNKNOWN) || text.includes(SECRET)) return void entry.notes.push("its pools, gateway or reserved are known only when the update runs: not predicted");
    try {
      return buildLayout(cidr, fields as never);
    } catch (error) {
      return void fail(entry, "INVALID_INPUT", (error as Error).message);
    }
  }

  /** Pools, gateway, reserved or childrenOnly changed in place: who ends outside the pools, what the store would refuse. */
  private editSubnet(step: IpamStep, entry: ReportEntry): void {
    const id = oldSubnetId(step);
    const f = id === undefined ? undefined : this.facts.get(id);
    if (f === undefined) return;
    entry.cidr = f.subnet.cidr;
    const layout = this.layoutOf(step, f.layout.cidr, entry);
    if (layout === undefined) return;
    const effects = subnetEditEffects(layout, f.allocations, f.heldValues);
    // Only those the edit moves out: an address already outside the old pools is no news.
    const already = new Set(subnetEditEffects(f.layout, f.allocations).outsidePools.map((h) => h.address));
    entry.outsidePools = effects.outsidePools.filter((h) => !already.has(h.address));
    if (effects.holdsDropped.length > 0) entry.holdsDropped = [...effects.holdsDropped];
    const blocked = effects.blocked[0];
    if (blocked !== undefined) return fail(entry, "CONFLICT", `${blocked.field} would cover ${blocked.address}, held by ${blocked.owner}`);
    if (step.inputs.childrenOnly === true && !f.subnet.childrenOnly && f.allocations.length > 0) {
      return fail(entry, "CONFLICT", `childrenOnly: ${f.subnet.cidr} holds ${f.allocations.length} allocation(s) of its own (${f.allocations[0]!.owner}, …)`);
    }
    if (f.truncated) return void entry.notes.push("too many allocations to replay the new free space: later steps use the current one");
    this.forecast.reshape(dbKey(id!), effects.free, layout.available);
  }
}


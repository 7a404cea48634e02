import { HIDDEN_KEYS } from "../../core/resourceContract.js";
import { ALLOCATION_TYPE, known, nameOfUrn, SECRET, SUBNET_TYPE, UNKNOWN, type PreviewStep, type ResourceV3 } from "./pulumiPreview.js";

/**
 * The IPAM resources' steps of a preview, as what each does to addresses: Pulumi's shapes turned into
 * the inputs and stored outputs the report reasons about (the input names of the resource contracts,
 * provider/core/allocationContract.ts and subnetContract.ts). Steps of other resources are skipped.
 */

export type Kind = "IpAllocation" | "Subnet";

/** "replace" covers both halves; with --show-replacement-steps the digest shows them apart. */
export type Action = "create" | "update" | "replace" | "delete" | "take-half" | "release-half";

export interface IpamStep {
  readonly index: number;
  readonly urn: string;
  readonly name: string;
  readonly kind: Kind;
  readonly op: string;
  readonly action: Action;
  /** Stored state: inputs and outputs (addresses, allocationId, subnetId, cidr). */
  readonly old: ResourceV3 | undefined;
  /** The new inputs (outputs are not known in a preview). */
  readonly inputs: Record<string, unknown>;
  readonly dependencies: Readonly<Record<string, readonly string[]>>;
}

const ACTIONS: Record<string, Action> = {
  create: "create",
  update: "update",
  replace: "replace",
  delete: "delete",
  "create-replacement": "take-half",
  "delete-replaced": "release-half",
};

/** @param state the stack's resources (stack export), for steps whose old state the digest leaves out */
export function ipamSteps(steps: readonly PreviewStep[], state: readonly ResourceV3[]): IpamStep[] {
  const byUrn = new Map(state.map((r) => [r.urn, r]));
  const out: IpamStep[] = [];
  steps.forEach((step, index) => {
    const type = step.newState?.type ?? step.oldState?.type ?? byUrn.get(step.urn)?.type;
    const kind: Kind | undefined = type === ALLOCATION_TYPE ? "IpAllocation" : type === SUBNET_TYPE ? "Subnet" : undefined;
    const action = ACTIONS[step.op];
    if (kind === undefined || action === undefined) return;
    // A read (get) only looks; an external resource is never changed by this stack.
    const old = step.oldState ?? (action === "create" ? undefined : byUrn.get(step.urn));
    if (old?.external === true || step.newState?.external === true) return;
    out.push({
      index,
      urn: step.urn,
      name: nameOfUrn(step.urn),
      kind,
      op: step.op,
      action,
      old: old ?? undefined,
      inputs: step.newState?.inputs ?? {},
      dependencies: step.newState?.propertyDependencies ?? {},
    });
  });
  return out;
}

/** The addresses an allocation holds, from its stored outputs, ascending (the provider stores them so). */
export function heldAddresses(old: ResourceV3 | undefined): string[] {
  const addresses = old?.outputs?.addresses;
  return Array.isArray(addresses) ? addresses.filter((a): a is string => typeof a === "string") : [];
}

export function oldSubnetId(step: IpamStep): string | undefined {
  if (step.kind === "Subnet") return known(step.old?.id) ?? known(step.old?.outputs?.subnetId);
  return known(step.old?.outputs?.subnetId) ?? known(step.old?.inputs?.subnetId);
}

/** A count input: a number, "unknown" (computed or secret), or the default 1. */
export function countInput(inputs: Record<string, unknown>): number | "unknown" {
  const count = inputs.count;
  if (count === undefined || count === null) return 1;
  return typeof count === "number" && Number.isInteger(count) && count > 0 ? count : "unknown";
}

export function isHidden(value: unknown): boolean {
  return value === UNKNOWN || value === SECRET;
}

/** Who would hold what this step takes: the SDK's `__owner` (project/stack/name), else the name. */
export function ownerOf(step: IpamStep): string {
  const key = HIDDEN_KEYS.owner.key;
  return known(step.inputs[key]) ?? known(step.old?.inputs?.[key]) ?? step.name;
}

import type { ProviderHost } from "../providerHost.js";
import type { ResourceState } from "./checkpoint.js";
import type { Goal, Props } from "./monitor.js";
import { stripSecrets } from "./secrets.js";

/**
 * Deciding what to do with one registration, as pulumi/pulumi pkg/resource/deploy/step_generator.go
 * decides it (`continueStepsFromImport`, `generateStepsFromDiff`, `continueStepsFromDiff`, `diff`,
 * `diffResource`). Each rule below names the function it copies. Not modelled: aliases, providers as
 * resources, plans, policy packs. --target is in targets.ts, the `import` option in deployment.ts.
 */

export const ROOT_STACK_TYPE = "pulumi:pulumi:Stack";
/** The SDK's unknown sentinel (sdk/nodejs/runtime/rpc.ts, `unknownValue`). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
/** plugin.DiffChanges (sdk/proto/provider.proto DiffResponse.DiffChanges). */
const DIFF_UNKNOWN = 0;
const DIFF_SOME = 2;

export interface Failure {
  property: string;
  reason: string;
}

export interface Decision {
  op: "create" | "update" | "replace" | "same";
  /** The inputs after Check (what Create/Update receive and the checkpoint stores). */
  inputs: Props;
  replaces: string[];
  deleteBeforeReplace: boolean;
  failures: Failure[];
}

/** resource.NewURN (sdk/go/common/resource/urn.go); a child of the root stack gets no parent type. */
export function makeUrn(stack: string, project: string, parent: string, type: string, name: string): string {
  const parentType = parent === "" ? "" : qualifiedType(parent);
  const qualified = parentType === "" || parentType === ROOT_STACK_TYPE ? type : `${parentType}$${type}`;
  return `urn:pulumi:${stack}::${project}::${qualified}::${name}`;
}

function qualifiedType(urn: string): string {
  return urn.split("::")[2] ?? "";
}

export function nameOf(urn: string): string {
  return urn.split("::").slice(3).join("::");
}

/**
 * processIgnoreChanges (step_generator.go) with resource.PropertyPath.Reset (sdk/go/common/resource/
 * properties_path.go): each ignored path takes its value from the OLD INPUTS, copied when they have
 * it and removed when they don't; a path missing in both is a no-op; one that cannot be reset (an
 * element of it added or removed) is left as the program gave it, and the engine says so in an info
 * message, not an error (`d.Infof`, "cannot ignore changes in added or removed elements of the path").
 * Dotted object paths only (`*` and `[i]` are not modelled).
 */
export function processIgnoreChanges(inputs: Props, oldInputs: Props, ignoreChanges: readonly string[], info: (message: string) => void = () => undefined): Props {
  const out = structuredClone(inputs);
  const isObject = (v: unknown): v is Props => v !== null && typeof v === "object" && !Array.isArray(v);
  const invalid: string[] = [];
  for (const path of ignoreChanges) {
    const keys = path.split(".");
    const last = keys.pop()!;
    let src: unknown = oldInputs;
    let dst: unknown = out;
    for (const k of keys) {
      src = isObject(src) ? src[k] : undefined;
      dst = isObject(dst) ? dst[k] : undefined;
    }
    if (!isObject(dst)) {
      if (src !== undefined) invalid.push(path);
      continue;
    }
    const old = isObject(src) ? src[last] : undefined;
    if (old === undefined) delete dst[last];
    else dst[last] = structuredClone(old);
  }
  if (invalid.length > 0) info(`cannot ignore changes in added or removed elements of the path: ${JSON.stringify(invalid.join(", "))}`);
  return out;
}

/**
 * applyReplaceOnChanges (step_generator.go): a key the provider reported as CHANGED (DiffResponse
 * `diffs`, or the detailed diff) that a replaceOnChanges path contains becomes a replace key. The SDK's
 * dynamic-provider host never fills `diffs` or the detailed diff, so for dynamic resources this adds
 * nothing: replaceOnChanges cannot turn their updates into replacements.
 */
export function applyReplaceOnChanges(replaces: string[], changedKeys: readonly string[], replaceOnChanges: readonly string[]): string[] {
  const out = new Set(replaces);
  for (const key of changedKeys) {
    if (replaceOnChanges.some((p) => p === "*" || p === key || key.startsWith(`${p}.`) || key.startsWith(`${p}[`))) out.add(key);
  }
  return [...out];
}

/** DeepEquals on plain JSON, key order ignored (resource.PropertyMap.DeepEquals); compare secrets with `inputsEqual`. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => deepEqual((a as Props)[k], (b as Props)[k]));
  }
  return a === b;
}

/** Inputs compared as the engine compares them: secret or not, the same value is the same (step_generator.go, `unwrapResourceSecretsAndOutputs`). */
export function inputsEqual(a: Props, b: Props): boolean {
  return deepEqual(stripSecrets(a), stripSecrets(b));
}

export interface DecideOptions {
  dryRun: boolean;
  /** `--replace <urn>`: isTargetedReplace. */
  targetedReplace: boolean;
  /** The engine's info messages (processIgnoreChanges). */
  info?: (message: string) => void;
}

/** One registration: Check, then Diff against the old state, then create / same / update / replace. */
export async function decide(host: ProviderHost | undefined, urn: string, goal: Goal, old: ResourceState | undefined, opts: DecideOptions): Promise<Decision> {
  const none = { replaces: [], deleteBeforeReplace: false, failures: [] };
  // Components have no provider: sg.diff compares inputs (`prov == nil`).
  if (!goal.custom || host === undefined) {
    if (old === undefined) return { op: "create", inputs: goal.inputs, ...none };
    return { op: inputsEqual(old.inputs, goal.inputs) ? "same" : "update", inputs: goal.inputs, ...none };
  }

  // continueStepsFromImport: ignored properties are reset to the old inputs before Check.
  let inputs = old === undefined ? goal.inputs : processIgnoreChanges(goal.inputs, old.inputs, goal.ignoreChanges, opts.info);
  // ... and Check sees no olds for a new resource or a targeted replacement (it must compute fresh defaults).
  const checked =
    old === undefined || opts.targetedReplace ? await host.check(urn, {}, goal.inputs) : await host.check(urn, old.inputs, inputs);
  inputs = checked.inputs;
  // issueCheckErrors: any failure makes the resource invalid and the deployment bails.
  if (checked.failures.length > 0) return { op: old === undefined ? "create" : "update", inputs, ...none, failures: checked.failures };
  if (old === undefined) return { op: "create", inputs, ...none };

  // sg.diff: a targeted replace blames "id" without asking the provider.
  let diff: { changes: number; replaces: string[]; deleteBeforeReplace: boolean; diffs: string[] };
  if (opts.targetedReplace) diff = { changes: DIFF_SOME, replaces: ["id"], deleteBeforeReplace: false, diffs: [] };
  else {
    // diffResource: the provider gets the old INPUTS and OUTPUTS; the SDK host hands the provider the OUTPUTS as `olds`.
    diff = await host.diff(urn, old.id ?? "", old.outputs, inputs);
    // DIFF_UNKNOWN: the engine diffs the inputs itself (after resetting ignored ones).
    if (diff.changes === DIFF_UNKNOWN) {
      const ignored = processIgnoreChanges(inputs, old.inputs, goal.ignoreChanges);
      diff = { ...diff, changes: inputsEqual(old.inputs, ignored) ? 1 : DIFF_SOME };
    }
  }
  if (diff.changes !== DIFF_SOME) return { op: "same", inputs, ...none };

  const replaces = applyReplaceOnChanges(diff.replaces, diff.diffs, goal.replaceOnChanges);
  if (replaces.length === 0) return { op: "update", inputs, ...none };

  // continueStepsFromDiff: a replacement recomputes defaults with a Check that has no olds (unless targeted).
  if (!opts.targetedReplace) {
    const fresh = await host.check(urn, {}, goal.inputs);
    if (fresh.failures.length > 0) return { op: "replace", inputs: fresh.inputs, ...none, replaces, failures: fresh.failures };
    inputs = fresh.inputs;
  }
  // The program's deleteBeforeReplace option overrides the provider's answer.
  const deleteBeforeReplace = goal.deleteBeforeReplace ?? diff.deleteBeforeReplace;
  return { op: "replace", inputs, replaces, deleteBeforeReplace, failures: [] };
}

/**
 * calculateDependentReplacements (step_generator.go): every resource whose inputs come from one being
 * replaced is diffed with those inputs unknown; those the provider would then replace join the set.
 * Returned in dependency (snapshot) order.
 */
export async function dependentReplacements(host: ProviderHost, remaining: readonly ResourceState[], root: ResourceState): Promise<ResourceState[]> {
  const replaceSet = new Set([root.urn]);
  const out: ResourceState[] = [];
  for (const r of remaining) {
    if (!r.custom || r.external === true || r.delete === true || r === root) continue;
    const affected = Object.entries(r.propertyDependencies ?? {}).filter(([, urns]) => urns.some((u) => replaceSet.has(u)));
    if (affected.length === 0) continue;
    const inputs: Props = { ...r.inputs };
    for (const [key] of affected) inputs[key] = UNKNOWN;
    const diff = await host.diff(r.urn, r.id ?? "", r.outputs, inputs);
    if (diff.changes === 2 && applyReplaceOnChanges(diff.replaces, diff.diffs, r.replaceOnChanges ?? []).length > 0) {
      if (r.protect === true) throw new Error(`unable to replace resource "${r.urn}" as part of replacing "${root.urn}" as it is currently marked for protection`);
      replaceSet.add(r.urn);
      out.push(r);
    }
  }
  return out;
}

/** The new state's fields from a registration (step_generator.go, `generateSteps`: resource.NewState). */
export function stateOf(urn: string, goal: Goal): ResourceState {
  return {
    urn,
    custom: goal.custom,
    type: goal.type,
    inputs: goal.inputs,
    outputs: {},
    ...(goal.parent === "" ? {} : { parent: goal.parent }),
    dependencies: goal.dependencies,
    propertyDependencies: goal.propertyDependencies,
    ...(goal.ignoreChanges.length > 0 ? { ignoreChanges: goal.ignoreChanges } : {}),
    ...(goal.replaceOnChanges.length > 0 ? { replaceOnChanges: goal.replaceOnChanges } : {}),
    ...(goal.protect ? { protect: true } : {}),
    ...(goal.retainOnDelete ? { retainOnDelete: true } : {}),
    ...(goal.deletedWith === "" ? {} : { deletedWith: goal.deletedWith }),
    ...(goal.additionalSecretOutputs.length > 0 ? { additionalSecretOutputs: goal.additionalSecretOutputs } : {}),
  };
}

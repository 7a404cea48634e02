import type { ResourceState } from "./checkpoint.js";
import type { Step } from "./deployment.js";
import { ROOT_STACK_TYPE } from "./stepGenerator.js";

/**
 * What `pulumi preview --json` prints, built from the modelled engine's steps: pulumi/pulumi
 * `display.PreviewDigest` (sdk/go/common/display/json.go), as `ShowPreviewDigest`
 * (pkg/backend/display/json.go) accumulates it from the engine's events:
 * - a step per ResourcePreEvent that `shouldShow` lets through (pkg/backend/display/rows.go): `same`
 *   only with --show-sames (not modelled: never), `replace` rather than its create-replacement and
 *   delete-replaced halves (--show-replacement-steps not modelled), the root stack always;
 * - `oldState` / `newState` as `stack.SerializeResource` writes `apitype.ResourceV3`, secrets as
 *   "[secret]" (`stateForJSONOutput`, `MassageSecrets`). The pre-event comes before the step's Apply,
 *   so a new state carries the checked inputs and no outputs yet;
 * - `replaceReasons` from the step's keys (`m.Keys`), `diffReasons` from `m.Diffs` (the SDK's
 *   dynamic-provider host reports none), `detailedDiff` null (the host drops detailed diffs);
 * - `config` from the prelude with secret values blinded, `diagnostics` without debug messages,
 *   `changeSummary` from the summary event (every op counted, `same` included).
 * Pure: a function of what the engine recorded.
 */

export interface ResourceV3 {
  urn: string;
  custom: boolean;
  delete?: boolean;
  id?: string;
  type: string;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
  parent?: string;
  external?: boolean;
  dependencies?: string[];
  propertyDependencies?: Record<string, string[]>;
}

export interface PreviewStep {
  op: string;
  urn: string;
  provider?: string;
  oldState?: ResourceV3;
  newState?: ResourceV3;
  diffReasons?: string[];
  replaceReasons?: string[];
  detailedDiff: null;
}

export interface PreviewDigest {
  config?: Record<string, string>;
  steps?: PreviewStep[];
  diagnostics?: { urn?: string; message: string; severity: string }[];
  changeSummary?: Record<string, number>;
}

/** The old and new state the engine held when it emitted a step's pre-event. */
export interface StepStates {
  old?: ResourceState;
  new?: ResourceState;
}

export interface DigestInput {
  steps: readonly Step[];
  states: ReadonlyMap<Step, StepStates>;
  config: Readonly<Record<string, string>>;
  secretKeys: readonly string[];
  /** The deployment's messages, "severity: [name: ]message". */
  messages: readonly string[];
}

const SECRET = "[secret]";
/** A secret property value, in memory (`value`) or serialized (`ciphertext`): sdk/go/common/resource/sig/sig.go. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

/** massagePropertyValue (pkg/backend/display/json.go) without showSecrets: every secret becomes "[secret]". */
export function massageSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(massageSecrets);
  if (value === null || typeof value !== "object") return value;
  const object = value as Record<string, unknown>;
  if (object[SECRET_SIG] === SECRET_VALUE) return SECRET;
  return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, massageSecrets(v)]));
}

export function previewDigest(input: DigestInput): PreviewDigest {
  const shown = input.steps.filter((s) => s.op !== "same" || s.type === ROOT_STACK_TYPE);
  const changeSummary: Record<string, number> = {};
  for (const s of input.steps) changeSummary[s.op] = (changeSummary[s.op] ?? 0) + 1;
  const config = Object.fromEntries(Object.entries(input.config).map(([k, v]) => [k, input.secretKeys.includes(k) ? SECRET : v]));
  return {
    ...(Object.keys(config).length > 0 ? { config } : {}),
    ...(shown.length > 0 ? { steps: shown.map((s) => previewStep(s, input.states.get(s) ?? {})) } : {}),
    ...(input.messages.length > 0 ? { diagnostics: input.messages.map(diagnostic) } : {}),
    changeSummary,
  };
}

function previewStep(step: Step, states: StepStates): PreviewStep {
  const old = step.op === "create" ? undefined : states.old;
  const news = step.op === "delete" ? undefined : states.new;
  return {
    op: step.op,
    urn: step.urn,
    ...(old === undefined ? {} : { oldState: serialize(old, true) }),
    ...(news === undefined ? {} : { newState: serialize({ ...news, ...(old?.id === undefined || step.op === "replace" ? {} : { id: old.id }) }, step.op === "read") }),
    ...(step.replaces === undefined || step.replaces.length === 0 ? {} : { replaceReasons: [...step.replaces] }),
    detailedDiff: null,
  };
}

/** apitype.ResourceV3, omitempty fields left out; outputs only where the engine has them (old state, a read). */
function serialize(r: ResourceState, withOutputs: boolean): ResourceV3 {
  return {
    urn: r.urn,
    custom: r.custom,
    ...(r.delete === true ? { delete: true } : {}),
    ...(r.id === undefined || r.id === "" ? {} : { id: r.id }),
    type: r.type,
    inputs: massageSecrets(r.inputs) as Record<string, unknown>,
    ...(withOutputs ? { outputs: massageSecrets(r.outputs) as Record<string, unknown> } : {}),
    ...(r.parent === undefined ? {} : { parent: r.parent }),
    ...(r.external === true ? { external: true } : {}),
    ...(r.dependencies === undefined ? {} : { dependencies: [...r.dependencies] }),
    ...(r.propertyDependencies === undefined ? {} : { propertyDependencies: structuredClone(r.propertyDependencies) }),
  };
}

function diagnostic(message: string): { message: string; severity: string } {
  const colon = message.indexOf(": ");
  return colon < 0 ? { message, severity: "info" } : { severity: message.slice(0, colon), message: message.slice(colon + 2) };
}

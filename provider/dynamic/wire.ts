import { InvalidInputError } from "../core/errors.js";

/** The SDK's unknown sentinel (pulumi.runtime.unknownValue): an input not known during preview. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export type Props = Record<string, unknown>;

export function isUnknown(value: unknown): boolean {
  return value === UNKNOWN;
}

/** Drop keys the engine or SDK adds, undefined values and (during preview) unknown ones. */
export function userInputs(props: Props, keys: readonly string[]): Props {
  const out: Props = {};
  for (const key of keys) {
    const value = props[key];
    if (value !== undefined && value !== null && !isUnknown(value)) out[key] = value;
  }
  return out;
}

export function hasUnknown(props: Props): boolean {
  return Object.values(props).some((v) => isUnknown(v) || (Array.isArray(v) && v.some(isUnknown)));
}

/** Turn validation errors into check failures; other errors propagate. */
export function failuresOf(error: unknown): { property: string; reason: string }[] {
  if (error instanceof InvalidInputError) {
    return error.issues.map((issue) => ({ property: issue.field.split(".")[0] ?? issue.field, reason: `${issue.field}: ${issue.reason}` }));
  }
  throw error;
}

/** Deep equality on plain JSON (diff inputs). */
export function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(normalise(a)) === JSON.stringify(normalise(b));
}

function normalise(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalise);
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, normalise((v as Props)[k])]));
  }
  return v ?? null;
}

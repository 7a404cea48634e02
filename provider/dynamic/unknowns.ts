import { InvalidInputError, type InputIssue } from "../core/errors.js";
import { isUnknown, type Props } from "./wire.js";

/**
 * Check during preview: an input computed from another resource's output arrives as the unknown
 * sentinel, at any depth (`allocationPools: [{ start: other.address, ... }]`). Validate everything
 * known and skip exactly what is unknown:
 *
 *  - `knownView` removes each unknown (an array element holding one is removed whole, its siblings'
 *    indices remembered), or puts a caller's stand-in in its place where presence matters to other
 *    fields (an unknown `parentId` still means "a child");
 *  - the core validates that view, and `knownIssues` maps its issues back to the program's indices and
 *    drops those at or under an unknown path (a stand-in or a removed required field).
 *
 * The core's rules are monotone in the elements present (out of range, overlapping, too long...), so
 * a failure found on the known part is a failure of the whole; the exception, a rule on the size of an
 * array that lost elements ("must not be empty"), is dropped too.
 */
export interface KnownView {
  view: Props;
  /** Dotted paths of the unknowns in the original value ("allocationPools.0.start"). */
  unknownPaths: string[];
  /** Arrays that lost elements: a rule about their size ("must not be empty") may not hold for the whole. */
  shrunk: Set<string>;
  /** A view path ("reserved.1") as the program wrote it ("reserved.2" when element 1 was unknown). */
  originalPath(field: string): string;
  /** Paths whose value the caller replaced by a copy of another's: findings there are about that other. */
  copiedFrom: Map<string, string>;
}

export function knownView(props: Props, standIns: Record<string, unknown> = {}): KnownView {
  const unknownPaths: string[] = [];
  const indexMaps = new Map<string, number[]>();
  const hasUnknownIn = (value: unknown, path: string): boolean => {
    if (isUnknown(value)) {
      unknownPaths.push(path);
      return true;
    }
    if (value === null || typeof value !== "object") return false;
    let found = false;
    for (const [k, v] of Object.entries(value)) found = hasUnknownIn(v, join(path, k)) || found;
    return found;
  };
  const walk = (value: unknown, path: string): unknown => {
    if (Array.isArray(value)) {
      const kept: unknown[] = [];
      const map: number[] = [];
      value.forEach((element, index) => {
        if (hasUnknownIn(element, join(path, String(index)))) return;
        map.push(index);
        kept.push(element);
      });
      if (kept.length !== value.length) indexMaps.set(path, map);
      return kept;
    }
    if (value === null || typeof value !== "object") return value;
    const out: Props = {};
    for (const [k, v] of Object.entries(value)) {
      const p = join(path, k);
      if (isUnknown(v)) {
        unknownPaths.push(p);
        if (path === "" && k in standIns) out[k] = standIns[k];
        continue;
      }
      out[k] = walk(v, p);
    }
    return out;
  };
  const view = walk(props, "") as Props;
  const copiedFrom = new Map<string, string>();
  return {
    copiedFrom,
    view,
    unknownPaths,
    shrunk: new Set(indexMaps.keys()),
    originalPath(field) {
      const parts = field.split(".");
      for (let i = 0; i < parts.length; i++) {
        const map = indexMaps.get(parts.slice(0, i).join("."));
        const index = Number(parts[i]);
        if (map !== undefined && Number.isInteger(index) && map[index] !== undefined) parts[i] = String(map[index]);
      }
      const path = parts.join(".");
      return copiedFrom.get(path) ?? path;
    },
  };
}

/**
 * Run the core's validation on the known view; return its issues that concern known values, mapped
 * to the program's paths. Errors other than InvalidInputError propagate.
 */
export function knownIssues(known: KnownView, validate: () => void): InputIssue[] {
  try {
    validate();
    return [];
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    const seen = new Set<string>();
    return error.issues
      .filter((issue) => !known.shrunk.has(issue.field))
      .map((issue) => ({ ...issue, field: known.originalPath(issue.field) }))
      .filter((issue) => !known.unknownPaths.some((p) => issue.field === p || issue.field.startsWith(`${p}.`)))
      .filter((issue) => !seen.has(`${issue.field}\u0000${issue.reason}`) && seen.add(`${issue.field}\u0000${issue.reason}`) !== undefined);
  }
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

import { createHash } from "node:crypto";
import { LIMITS } from "../core/schemas.js";
import { HIDDEN_KEYS } from "../core/resourceContract.js";
import type { Props } from "./wire.js";

/** Hidden inputs the SDK adds: who holds it (project/stack/name, shown in history) and where the resource sits. */
export const OWNER = HIDDEN_KEYS.owner.key;
/** Organization and parent URN: two resources with one name under different parents are different holders. */
export const SCOPE = HIDDEN_KEYS.scope.key;
/**
 * The stack's identity (a random id the stack keeps in its own state, sdk/stackIdentity.ts): equally
 * named stacks in different backends get different keys. Absent in state written before it existed.
 */
export const STACK = HIDDEN_KEYS.stack.key;
/** Hidden output: the token this resource claimed its subnet or allocation with (README "Claims"). */
export const CLAIM = HIDDEN_KEYS.claim.key;

/**
 * The idempotency key of a resource's request: the same on every retry of one create, different
 * for every other resource. Readable while it fits the core's limit, a digest beyond it.
 */
export function ownerKey(props: Props, request: string): string {
  const owner = String(props[OWNER] ?? "");
  const stack = typeof props[STACK] === "string" ? props[STACK] : "";
  // Without a stack identity the key is what it was before there was one (a retry of an old create).
  const scope = stack === "" ? String(props[SCOPE] ?? "") : `${stack}|${String(props[SCOPE] ?? "")}`;
  const key = `${owner}${scope === "" ? "" : `@${digest(scope).slice(0, 12)}`}#${request}`;
  return key.length <= LIMITS.idempotencyKeyLength ? key : `sha256:${digest(`${owner}\u0000${scope}\u0000${request}`)}`;
}

function digest(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export function claimOf(props: Props): string | undefined {
  const claim = props[CLAIM];
  return typeof claim === "string" && claim !== "" ? claim : undefined;
}

/** A stored claim other than this resource's: a newer claimant took the subnet or allocation over. */
export function isGone(stored: string | null, props: Props): boolean {
  return stored !== null && stored !== claimOf(props);
}

import * as pulumi from "@pulumi/pulumi";
import { stackIdentity } from "./stackIdentity.js";
import { HIDDEN_KEYS } from "../provider/core/resourceContract.js";

/**
 * The hidden inputs that name a resource to the provider: `__owner` (project/stack/name, shown in
 * the IPAM history), `__scope` (organization and parent URN, so equally named resources under
 * different parents or organizations never share an idempotency key) and `__stack` (the stack's
 * identity, so equally named stacks in different backends never do either; see stackIdentity.ts).
 * The keys are the contract's (core/resourceContract.ts, HIDDEN_KEYS), which the provider reads.
 */
export function resourceIdentity(
  name: string,
  opts: pulumi.CustomResourceOptions | undefined,
): { __owner: string; __scope: pulumi.Input<string>; __stack?: pulumi.Input<string> } {
  const organization = organizationName();
  const parent = opts?.parent;
  return {
    [HIDDEN_KEYS.owner.key]: `${pulumi.getProject()}/${pulumi.getStack()}/${name}`,
    [HIDDEN_KEYS.scope.key]: parent === undefined ? organization : parent.urn.apply((urn) => `${organization}|${urn}`),
    // A `get` (opts.id) creates nothing, so it needs no stack identity (and must not bring one into a stack).
    ...(opts?.id === undefined ? { [HIDDEN_KEYS.stack.key]: stackIdentity() } : {}),
  };
}

/** Older engines and test mocks may not pass an organization; the scope then holds the parent alone. */
function organizationName(): string {
  try {
    return pulumi.getOrganization();
  } catch {
    return "";
  }
}

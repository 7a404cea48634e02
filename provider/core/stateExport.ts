import { InvalidInputError } from "./errors.js";

/**
 * What `ipam reconcile` re-asserts from Pulumi state: the IpAllocation resources of a `pulumi stack
 * export` file (or the checkpoint a DIY backend keeps: the same resources under
 * `checkpoint.latest`). Pure: reads JSON, knows the outputs the dynamic provider writes
 * (provider/dynamic/allocationProvider.ts `outputs`), never imports Pulumi.
 */
export interface StateAllocation {
  /** Which file and resource it came from, for reports. */
  readonly source: string;
  readonly urn: string;
  readonly allocationId: string;
  readonly subnetId: string;
  readonly addresses: readonly string[];
  readonly owner: string;
  readonly strategy: "specific" | "sequential" | "random";
  readonly claim: string | null;
  /** The database identity the resource recorded (`__database`), or null in state from before identities. */
  readonly database: string | null;
  /** Plaintext description and tags; null when state holds them as secrets (never decrypted here). */
  readonly description: string | null;
  readonly tags: Readonly<Record<string, string>> | null;
  /** The hidden inputs the idempotency key is made from (`__owner`, `__scope`, `__stack`) and the request inputs. */
  readonly keyInputs: Readonly<Record<string, unknown>>;
}

/** Pulumi's marker of a secret value in state and exports. */
const SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d";

export type Json = Record<string, unknown>;

export const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);
/** A value the state holds sealed (or, exported with --show-secrets, marked): never read. */
export const isSecret = (value: unknown) => isObject(value) && SECRET_SIGNATURE in value;

/**
 * The allocations a state file holds.
 * @throws InvalidInputError naming the file when it is not a stack export or checkpoint
 */
export function allocationsInState(source: string, document: unknown): StateAllocation[] {
  const resources = resourcesOf(document);
  if (resources === undefined) {
    throw InvalidInputError.of("from-state", `${source} is not a \`pulumi stack export\` file (no deployment.resources)`);
  }
  return resources.flatMap((resource) => {
    const allocation = isObject(resource) ? allocationOf(source, resource) : null;
    return allocation === null ? [] : [allocation];
  });
}

/**
 * The live resources of a state file (deleted-pending ones left out).
 * @throws InvalidInputError naming the file when it is not a stack export or checkpoint
 */
export function stateResources(source: string, document: unknown): Json[] {
  const resources = resourcesOf(document);
  if (resources === undefined) {
    throw InvalidInputError.of("from-state", `${source} is not a \`pulumi stack export\` file (no deployment.resources)`);
  }
  return resources.filter((resource): resource is Json => isObject(resource) && resource.delete !== true);
}

function resourcesOf(document: unknown): unknown[] | undefined {
  if (!isObject(document)) return undefined;
  const deployment = isObject(document.deployment) ? document.deployment : isObject(document.checkpoint) && isObject(document.checkpoint.latest) ? document.checkpoint.latest : undefined;
  return Array.isArray(deployment?.resources) ? deployment.resources : undefined;
}

function allocationOf(source: string, resource: Json): StateAllocation | null {
  const outputs = resource.outputs;
  // "pulumi-nodejs:dynamic/ipam:IpAllocation" (or "pulumi-nodejs:dynamic:Resource" in older state); the outputs say what it is.
  if (typeof resource.type !== "string" || !resource.type.startsWith("pulumi-nodejs:dynamic") || !isObject(outputs) || resource.delete === true) return null;
  const { allocationId, subnetId, addresses, owner, strategy } = outputs;
  if (typeof allocationId !== "string" || typeof subnetId !== "string" || typeof owner !== "string") return null;
  if (!Array.isArray(addresses) || !addresses.every((address) => typeof address === "string")) return null;
  if (strategy !== "specific" && strategy !== "sequential" && strategy !== "random") return null;
  const inputs = requestInputsOf(resource);
  return {
    source,
    urn: String(resource.urn ?? ""),
    allocationId,
    subnetId,
    addresses,
    owner,
    strategy,
    claim: typeof outputs.__claim === "string" && outputs.__claim !== "" ? outputs.__claim : null,
    database: typeof outputs.__database === "string" ? outputs.__database : null,
    description: typeof outputs.description === "string" ? outputs.description : isSecret(outputs.description) ? null : "",
    tags: plainTags(outputs.tags),
    keyInputs: {
      __owner: outputs.__owner,
      __scope: outputs.__scope,
      __stack: outputs.__stack,
      strategy: inputs.strategy,
      address: inputs.address,
    },
  };
}

/**
 * The inputs a resource was created with. `__inputs` (the provider's copy) is sealed in state (the SDK
 * lists it in additionalSecretOutputs), so the engine's own record of the inputs, where only values
 * that were secret in the program are sealed, is read instead; a secret value stays sealed either way.
 */
export function requestInputsOf(resource: Json): Json {
  const copy = isObject(resource.outputs) ? resource.outputs.__inputs : undefined;
  if (isObject(copy) && !isSecret(copy)) return copy;
  return isObject(resource.inputs) && !isSecret(resource.inputs) ? resource.inputs : {};
}

function plainTags(value: unknown): Record<string, string> | null {
  if (!isObject(value) || isSecret(value)) return isSecret(value) ? null : {};
  const entries = Object.entries(value);
  return entries.every(([, tag]) => typeof tag === "string") ? (Object.fromEntries(entries) as Record<string, string>) : null;
}

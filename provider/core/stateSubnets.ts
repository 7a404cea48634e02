import { parseCidr } from "./address.js";
import { InvalidInputError } from "./errors.js";
import { assertChildRules } from "./prefixPolicy.js";
import type { z } from "zod";
import { createSubnetSchema, parseInput } from "./schemas.js";
import { isObject, isSecret, requestInputsOf, stateResources, type Json } from "./stateExport.js";
import { buildLayout, type SubnetLayout } from "./subnetLayout.js";

/**
 * What `ipam reconcile` re-creates from Pulumi state: the Subnet resources of a `pulumi stack export`
 * file, read from the outputs the dynamic provider writes (provider/dynamic/subnetProvider.ts
 * `subnetOutputs`). Pure. A value the state holds as a secret is never read: a secret description or
 * tags are re-created empty (the stack's next `up` writes them back), any other secret field means
 * the subnet cannot be re-created as it was.
 */
export interface StateSubnet {
  readonly source: string;
  readonly urn: string;
  readonly subnetId: string;
  readonly cidr: string | null;
  readonly namespace: string | null;
  readonly parentId: string | null;
  /** The settable fields as the create request would give them (secret ones left out). */
  readonly fields: Readonly<Record<string, unknown>>;
  readonly claim: string | null;
  readonly database: string | null;
  /** Output keys the state holds as secrets. */
  readonly secret: readonly string[];
  /** The hidden inputs and the request inputs the idempotency key is made from; null when the state holds no inputs. */
  readonly keyInputs: Readonly<Record<string, unknown>> | null;
}

/** Fields that may be re-created empty when secret: the subnet's addressing does not depend on them. */
const COSMETIC = new Set(["description", "tags"]);
const SETTABLE = ["gateway", "reserved", "description", "tags", "childrenOnly", "minPrefixLength", "maxPrefixLength", "defaultPrefixLength", "releaseHoldSeconds"] as const;
const SHAPE = ["subnetId", "cidr", "namespace", "parentId", "allocationPools", "__poolsExplicit", ...SETTABLE] as const;

/**
 * The subnets a state file holds.
 * @throws InvalidInputError naming the file when it is not a stack export or checkpoint
 */
export function subnetsInState(source: string, document: unknown): StateSubnet[] {
  return stateResources(source, document).flatMap((resource) => {
    const subnet = subnetOf(source, resource);
    return subnet === null ? [] : [subnet];
  });
}

function subnetOf(source: string, resource: Json): StateSubnet | null {
  const outputs = resource.outputs;
  if (typeof resource.type !== "string" || !resource.type.startsWith("pulumi-nodejs:dynamic") || !isObject(outputs)) return null;
  // A Subnet's outputs: subnetId, ipVersion and size, and no allocationId (an IpAllocation's carry its subnet's id too).
  if ("allocationId" in outputs || !("ipVersion" in outputs) || !("size" in outputs)) return null;
  if (typeof outputs.subnetId !== "string") return null;
  const secret = SHAPE.filter((key) => isSecret(outputs[key]));
  const plain = (key: string) => (isSecret(outputs[key]) ? undefined : outputs[key]);
  const fields: Record<string, unknown> = {};
  for (const key of SETTABLE) if (plain(key) !== undefined && plain(key) !== null) fields[key] = plain(key);
  if (plain("__poolsExplicit") === true && plain("allocationPools") !== undefined) fields.allocationPools = plain("allocationPools");
  const inputs = requestInputsOf(resource);
  return {
    source,
    urn: String(resource.urn ?? ""),
    subnetId: outputs.subnetId,
    cidr: typeof plain("cidr") === "string" ? (plain("cidr") as string) : null,
    namespace: typeof plain("namespace") === "string" ? (plain("namespace") as string) : null,
    parentId: typeof plain("parentId") === "string" ? (plain("parentId") as string) : null,
    fields,
    claim: typeof outputs.__claim === "string" && outputs.__claim !== "" ? outputs.__claim : null,
    database: typeof outputs.__database === "string" ? outputs.__database : null,
    secret,
    keyInputs: Object.keys(inputs).length === 0 ? null : { ...inputs, ...hiddenOf(outputs) },
  };
}

/** The hidden owner, scope and stack the outputs keep (the engine's inputs hold them too). */
function hiddenOf(outputs: Json): Json {
  return Object.fromEntries(["__owner", "__scope", "__stack"].filter((key) => outputs[key] !== undefined).map((key) => [key, outputs[key]]));
}

/** What a state subnet is, validated as a create request would be. */
export interface StateSubnetPlan {
  readonly layout: SubnetLayout;
  readonly fields: z.output<typeof createSubnetSchema>;
  /** Secret fields re-created with their defaults. */
  readonly leftEmpty: readonly string[];
}

/**
 * Validate a state subnet for re-creation: every field through the core's create schema and layout
 * rules. `parentId` in state outputs is the only proof of a child (its CIDR is always known there).
 * @throws InvalidInputError naming the field (a secret one that addressing needs included)
 */
export function planStateSubnet(subnet: StateSubnet): StateSubnetPlan {
  const needed = subnet.secret.filter((key) => !COSMETIC.has(key));
  if (needed.length > 0) {
    throw InvalidInputError.of(needed[0]!, `${needed.join(", ")} ${needed.length === 1 ? "is" : "are"} secret in the state (ipam never decrypts state): re-create subnet ${subnet.subnetId} by hand with the same settings`);
  }
  if (subnet.cidr === null) throw InvalidInputError.of("cidr", `subnet ${subnet.subnetId} has no CIDR in the state`);
  const fields = parseInput(createSubnetSchema, {
    cidr: subnet.cidr,
    ...(subnet.parentId === null ? { namespace: subnet.namespace ?? "default" } : { parentId: subnet.parentId }),
    ...subnet.fields,
  });
  const layout = buildLayout(parseCidr(fields.cidr, "cidr"), fields);
  assertChildRules(layout.cidr, { minPrefixLength: fields.minPrefixLength ?? null, maxPrefixLength: fields.maxPrefixLength ?? null, defaultPrefixLength: fields.defaultPrefixLength ?? null });
  return { layout, fields, leftEmpty: subnet.secret.filter((key) => COSMETIC.has(key)) };
}

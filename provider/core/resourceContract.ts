/**
 * The shape of a resource's contract: one place that says what each input of `Subnet` and
 * `IpAllocation` is and what changing it does. The SDK's Args, the dynamic provider's Check and Diff
 * and docs/pulumi-resources.md (`npm run docs`) all read it, so they cannot drift apart. Plain data:
 * the core knows nothing of Pulumi.
 */

/** What changing an input does to an existing resource: what `pulumi preview` shows. */
export type InputChange = "replace" | "update" | "none";

export interface InputSpec {
  /** The input's type as the SDK declares it (without `pulumi.Input`). */
  readonly type: string;
  /** What the input is: the SDK's Args comment and the docs' description, word for word. */
  readonly doc: string;
  /** "none": the input is read at creation only, and a later change does nothing. */
  readonly change: InputChange;
  /** What an absent input counts as when Diff compares it; absent when nothing stands in for it. */
  readonly default?: unknown;
  /** The docs' wording of the default, where its value alone would not say what it means. */
  readonly defaultText?: string;
  /** A switch the provider acts on itself: not part of the request the core validates and the store stores. */
  readonly providerOnly?: true;
}

export interface ResourceContract {
  /** The SDK class. */
  readonly resource: string;
  /** Which of old and new goes first when the resource is replaced. */
  readonly replaceOrder: string;
  readonly inputs: Readonly<Record<string, InputSpec>>;
}

/**
 * Keys beside the user's inputs and outputs, in the engine's requests and in state. The connection
 * string is provider configuration and never reaches them; `__inputs` copies the user's inputs, secret
 * ones included, so the SDK lists it in `additionalSecretOutputs` (sdk/resourceOptions.ts).
 */
export const HIDDEN_KEYS = {
  provider: { key: "__provider", in: "inputs and outputs", doc: "the serialized provider the SDK host loads; it names the package, never a path (docs/identity.md)" },
  owner: { key: "__owner", in: "inputs and outputs", doc: "`project/stack/name` of the resource: the holder shown in the IPAM history, and part of its idempotency key" },
  scope: { key: "__scope", in: "inputs and outputs", doc: "organization and parent URN: equally named resources under different parents never share a key" },
  stack: { key: "__stack", in: "inputs and outputs", doc: "the stack's identity (a random id it keeps in its own state): equally named stacks in different backends never share a key" },
  inputs: { key: "__inputs", in: "outputs", doc: "the inputs the resource was made from: what Diff compares" },
  claim: { key: "__claim", in: "outputs", doc: "the random token this resource claimed its subnet or allocation with, so an older claimant's delete frees nothing" },
  database: { key: "__database", in: "outputs", doc: "the identity of the database that holds the resource: Read, Update and Delete refuse another" },
  poolsExplicit: { key: "__poolsExplicit", in: "outputs (Subnet)", doc: "whether the subnet's pools were set, not the default, so removing `allocationPools` restores the default" },
} as const;

/** The names of a contract's inputs. */
export type InputName<C extends ResourceContract> = keyof C["inputs"] & string;

/** The names of a contract's inputs whose change does `change`. */
export type InputsThat<C extends ResourceContract, Change extends InputChange> = {
  [K in InputName<C>]: C["inputs"][K]["change"] extends Change ? K : never;
}[InputName<C>];

/** The names of the inputs that make up the request the core validates (all but provider switches). */
export type RequestInputName<C extends ResourceContract> = {
  [K in InputName<C>]: C["inputs"][K] extends { providerOnly: true } ? never : K;
}[InputName<C>];

/** Compiles only when `T` is `true`: `type _ = Assert<SameNames<A, B>>`. */
export type Assert<T extends true> = T;
/** `true` when two unions of names are equal. */
export type SameNames<A extends string, B extends string> = [Exclude<A, B>, Exclude<B, A>] extends [never, never] ? true : false;

/** Every input, in the contract's order. */
export function inputNames<C extends ResourceContract>(contract: C): InputName<C>[] {
  return Object.keys(contract.inputs) as InputName<C>[];
}

/** The inputs whose change does `change`, in the contract's order. */
export function inputsThat<C extends ResourceContract, Change extends InputChange>(contract: C, change: Change): InputsThat<C, Change>[] {
  return inputNames(contract).filter((name) => contract.inputs[name]!.change === change) as InputsThat<C, Change>[];
}

/** The inputs of the request the core validates, in the contract's order. */
export function requestInputs<C extends ResourceContract>(contract: C): RequestInputName<C>[] {
  return inputNames(contract).filter((name) => contract.inputs[name]!.providerOnly !== true) as RequestInputName<C>[];
}

/** What each input with a default counts as when absent. */
export function defaultsOf(contract: ResourceContract): Record<string, unknown> {
  return Object.fromEntries(Object.entries(contract.inputs).filter(([, spec]) => "default" in spec).map(([name, spec]) => [name, spec.default]));
}

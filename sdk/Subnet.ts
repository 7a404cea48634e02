import * as pulumi from "@pulumi/pulumi";
import { lazyProvider } from "./implementation.js";
import { QuietDynamicResource } from "./quietDynamicResource.js";
import { resourceIdentity } from "./resourceIdentity.js";
import { resourceOptions } from "./resourceOptions.js";
import type { Assert, InputName, SameNames } from "../provider/core/resourceContract.js";
import type { SUBNET_CONTRACT } from "../provider/core/subnetContract.js";

export interface AllocationPoolArgs {
  start: pulumi.Input<string>;
  end: pulumi.Input<string>;
}

/**
 * A top-level subnet (`cidr`), or a child carved from `parentId`: the next free aligned block of
 * `prefixLength` (else the parent's `defaultPrefixLength`), or a specific `cidr` inside the parent.
 */
export interface SubnetArgs {
  /** e.g. "10.0.0.0/24" or "2001:db8::/64"; for a child, optional (the allocator chooses). Changing it replaces the subnet. */
  cidr?: pulumi.Input<string>;
  /** Overlap is refused within a namespace (default "default"); a child lives in its parent's. Changing it replaces the subnet. */
  namespace?: pulumi.Input<string>;
  /** The `subnetId` of the parent to carve this subnet from. Changing it replaces the subnet. */
  parentId?: pulumi.Input<string>;
  /** Size of the child block (e.g. 24 for a /24). Changing it replaces the subnet. */
  prefixLength?: pulumi.Input<number>;
  /** How a child block is chosen: "first-fit" (lowest free, default) or "best-fit" (from the smallest free gap). Used at creation only. */
  strategy?: pulumi.Input<"first-fit" | "best-fit">;
  /** Hand out child subnets only, never addresses directly (a pool). */
  childrenOnly?: pulumi.Input<boolean>;
  /** Shortest prefix a child may ask for (its largest size). */
  minPrefixLength?: pulumi.Input<number>;
  /** Longest prefix a child may ask for (its smallest size). */
  maxPrefixLength?: pulumi.Input<number>;
  /** Prefix length of a child that names none. */
  defaultPrefixLength?: pulumi.Input<number>;
  /** Seconds a released address is kept out of next-free, random and bulk picks (hold-down; docs/operations.md). 0 hands it out again at once. */
  releaseHoldSeconds?: pulumi.Input<number>;
  /** The ranges `IpAllocation`s take addresses from; without it, every usable address of the CIDR but the gateway. */
  allocationPools?: pulumi.Input<pulumi.Input<AllocationPoolArgs>[]>;
  /** The gateway's address: never allocated, and outside every pool. */
  gateway?: pulumi.Input<string>;
  /** Addresses and CIDRs inside the subnet that are never allocated. */
  reserved?: pulumi.Input<pulumi.Input<string>[]>;
  /** Free text about the subnet. */
  description?: pulumi.Input<string>;
  /** Labels: a map of string to string. */
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}
/** The Args are the contract's inputs (core/subnetContract.ts), whose `doc` lines are the comments above (test/provider/resourceContracts.test.ts). */
type SubnetArgsFollowContract = Assert<SameNames<keyof SubnetArgs, InputName<typeof SUBNET_CONTRACT>>>;

let provider: pulumi.dynamic.ResourceProvider | undefined;

/** A subnet in the IPAM database; `IpAllocation`s take addresses from its pools. */
export class Subnet extends QuietDynamicResource {
  /**
   * The subnet's id: this resource's Pulumi `id`. Wire consumers (`IpAllocation.subnetId`, a child's
   * `parentId`, stack exports) to it. Why the id and not a provider output: when a preview shows an
   * update of this subnet, the engine hands its dependents the NEW INPUTS as outputs, so every output
   * that is not an input is unknown (pulumi/pulumi provider_plugin.go, `Update` for a provider without
   * preview support), and an unknown subnetId makes every allocation and child preview a replacement.
   * The id is known in that preview (step.go, UpdateStep.Apply keeps the old ID even in previews) and an
   * update never changes it; it is unknown only when the subnet itself is created or replaced, when the
   * replacements it then shows are real.
   */
  declare readonly subnetId: pulumi.Output<string>;
  /** The subnet's CIDR; for a carved child, known once it is created. */
  declare readonly cidr: pulumi.Output<string>;
  declare readonly namespace: pulumi.Output<string>;
  declare readonly parentId: pulumi.Output<string | null>;
  declare readonly prefixLength: pulumi.Output<number>;
  declare readonly childrenOnly: pulumi.Output<boolean>;
  declare readonly minPrefixLength: pulumi.Output<number | null>;
  declare readonly maxPrefixLength: pulumi.Output<number | null>;
  declare readonly defaultPrefixLength: pulumi.Output<number | null>;
  declare readonly releaseHoldSeconds: pulumi.Output<number>;
  declare readonly ipVersion: pulumi.Output<4 | 6>;
  /** Number of addresses in the CIDR, as a decimal string (IPv6 exceeds 2^53). */
  declare readonly size: pulumi.Output<string>;
  declare readonly gateway: pulumi.Output<string | null>;
  declare readonly allocationPools: pulumi.Output<{ start: string; end: string }[]>;
  declare readonly reserved: pulumi.Output<string[]>;
  declare readonly description: pulumi.Output<string>;
  declare readonly tags: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: SubnetArgs, opts?: pulumi.CustomResourceOptions) {
    provider ??= lazyProvider("subnet");
    super(
      provider,
      name,
      {
        // Every output is listed, so the engine fills it even when the program leaves the input out.
        cidr: undefined,
        namespace: undefined,
        parentId: undefined,
        prefixLength: undefined,
        childrenOnly: undefined,
        minPrefixLength: undefined,
        maxPrefixLength: undefined,
        defaultPrefixLength: undefined,
        releaseHoldSeconds: undefined,
        gateway: undefined,
        allocationPools: undefined,
        reserved: undefined,
        description: undefined,
        tags: undefined,
        ...args,
        ...resourceIdentity(name, opts),
        ipVersion: undefined,
        size: undefined,
      },
      resourceOptions("Subnet", name, opts),
      "ipam",
      "Subnet",
    );
    (this as { subnetId: pulumi.Output<string> }).subnetId = this.id;
  }

  /**
   * A read-only reference to an existing subnet (made by another stack, the CLI or another tool): its
   * live values, read at every run; this stack never changes or deletes it. Fails when there is no
   * subnet with that id.
   */
  static get(name: string, id: pulumi.Input<string>, opts?: pulumi.CustomResourceOptions): Subnet {
    return new Subnet(name, {}, { ...opts, id });
  }
}

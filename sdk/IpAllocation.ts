import * as pulumi from "@pulumi/pulumi";
import { lazyProvider } from "./implementation.js";
import { QuietDynamicResource } from "./quietDynamicResource.js";
import { resourceIdentity } from "./resourceIdentity.js";
import { resourceOptions } from "./resourceOptions.js";
import type { Assert, InputName, SameNames } from "../provider/core/resourceContract.js";
import type { ALLOCATION_CONTRACT } from "../provider/core/allocationContract.js";

export interface IpAllocationArgs {
  /** The `subnetId` output of a Subnet (or a StackReference output). Changing it replaces. */
  subnetId: pulumi.Input<string>;
  /** A specific address instead of the next free one. Changing it replaces. */
  address?: pulumi.Input<string>;
  /** How many addresses (default 1). Up adds addresses, down releases the highest; existing ones stay. */
  count?: pulumi.Input<number>;
  /** "sequential" (default: lowest free) or "random" (CSPRNG). Changing it replaces. */
  strategy?: pulumi.Input<"sequential" | "random">;
  /** Free text about the allocation. */
  description?: pulumi.Input<string>;
  /** Labels: a map of string to string. */
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /**
   * Take over the allocation that already holds `address` (made by the CLI, another tool or another
   * stack) instead of allocating: it becomes this resource's, with this stack as owner, and the
   * previous holder's release or refresh no longer touches it. The explicit adoption path, since
   * `pulumi import` cannot reach dynamic providers.
   */
  adopt?: pulumi.Input<boolean>;
}
/** The Args are the contract's inputs (core/allocationContract.ts), whose `doc` lines are the comments above (test/provider/resourceContracts.test.ts). */
type IpAllocationArgsFollowContract = Assert<SameNames<keyof IpAllocationArgs, InputName<typeof ALLOCATION_CONTRACT>>>;

let provider: pulumi.dynamic.ResourceProvider | undefined;

/** Addresses taken from a Subnet; never handed out twice, however many stacks run at once. */
export class IpAllocation extends QuietDynamicResource {
  declare readonly allocationId: pulumi.Output<string>;
  declare readonly subnetId: pulumi.Output<string>;
  /** The first (lowest) address. */
  declare readonly address: pulumi.Output<string>;
  declare readonly addresses: pulumi.Output<string[]>;
  declare readonly count: pulumi.Output<number>;
  /** How its addresses were chosen: "sequential", "random", or "specific" (an `address` was given). */
  declare readonly strategy: pulumi.Output<"sequential" | "random" | "specific">;
  declare readonly prefixLength: pulumi.Output<number>;
  declare readonly gateway: pulumi.Output<string | null>;
  /** project/stack/resource name of the stack that holds it. */
  declare readonly owner: pulumi.Output<string>;
  declare readonly description: pulumi.Output<string>;
  declare readonly tags: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: IpAllocationArgs, opts?: pulumi.CustomResourceOptions) {
    provider ??= lazyProvider("allocation");
    super(
      provider,
      name,
      {
        // Every output is listed, so the engine fills it even when the program leaves the input out.
        address: undefined,
        count: undefined,
        strategy: undefined,
        description: undefined,
        tags: undefined,
        ...args,
        ...resourceIdentity(name, opts),
        allocationId: undefined,
        addresses: undefined,
        prefixLength: undefined,
        gateway: undefined,
        owner: undefined,
      },
      resourceOptions("IpAllocation", name, opts),
      "ipam",
      "IpAllocation",
    );
  }

  /**
   * A read-only reference to an existing allocation (by its allocationId): its live values, read at
   * every run; this stack neither claims, changes nor releases it (use `adopt` to take one over).
   * `new IpAllocation(name, args, { id })` is the same read: `args` are then ignored. Fails when there
   * is no allocation with that id.
   */
  static get(name: string, id: pulumi.Input<string>, opts?: pulumi.CustomResourceOptions): IpAllocation {
    return new IpAllocation(name, {} as IpAllocationArgs, { ...opts, id });
  }
}

import * as pulumi from "@pulumi/pulumi";
import { lazyProvider } from "./implementation.js";

export interface AllocationPoolArgs {
  start: pulumi.Input<string>;
  end: pulumi.Input<string>;
}

export interface SubnetArgs {
  /** e.g. "10.0.0.0/24" or "2001:db8::/64"; changing it replaces the subnet. */
  cidr: pulumi.Input<string>;
  /** Overlap is refused within a namespace (default "default"); changing it replaces the subnet. */
  namespace?: pulumi.Input<string>;
  allocationPools?: pulumi.Input<pulumi.Input<AllocationPoolArgs>[]>;
  gateway?: pulumi.Input<string>;
  reserved?: pulumi.Input<pulumi.Input<string>[]>;
  description?: pulumi.Input<string>;
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

let provider: pulumi.dynamic.ResourceProvider | undefined;

/** A subnet in the IPAM database; `IpAllocation`s take addresses from its pools. */
export class Subnet extends pulumi.dynamic.Resource {
  declare readonly subnetId: pulumi.Output<string>;
  declare readonly cidr: pulumi.Output<string>;
  declare readonly namespace: pulumi.Output<string>;
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
        ...args,
        subnetId: undefined,
        ipVersion: undefined,
        size: undefined,
      },
      opts,
      "ipam",
      "Subnet",
    );
  }
}

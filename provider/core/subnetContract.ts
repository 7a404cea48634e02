import type { Assert, InputsThat, RequestInputName, ResourceContract, SameNames } from "./resourceContract.js";
import type { CreateSubnetInput, UpdateSubnetInput } from "./schemas.js";

/**
 * `Subnet`: a top-level subnet (`cidr`), or a child carved from `parentId` (a `prefixLength` block, or
 * a specific `cidr` inside the parent). Order matters: it is the order of Diff's `replaces`.
 */
export const SUBNET_CONTRACT = {
  resource: "Subnet",
  replaceOrder:
    "create the new subnet first; delete the old one first when old and new overlap (same namespace and parent), refused while the old one holds allocations or child subnets ([renumbering](pulumi.md#renumbering-a-subnet))",
  inputs: {
    cidr: {
      type: "string",
      doc: 'e.g. "10.0.0.0/24" or "2001:db8::/64"; for a child, optional (the allocator chooses). Changing it replaces the subnet.',
      change: "replace",
    },
    namespace: {
      type: "string",
      doc: 'Overlap is refused within a namespace (default "default"); a child lives in its parent\'s. Changing it replaces the subnet.',
      change: "replace",
      default: "default",
    },
    parentId: { type: "string", doc: "The `subnetId` of the parent to carve this subnet from. Changing it replaces the subnet.", change: "replace", default: null, defaultText: "none (a top-level subnet)" },
    prefixLength: { type: "number", doc: "Size of the child block (e.g. 24 for a /24). Changing it replaces the subnet.", change: "replace", defaultText: "the parent's `defaultPrefixLength`" },
    strategy: {
      type: '"first-fit" | "best-fit"',
      doc: 'How a child block is chosen: "first-fit" (lowest free, default) or "best-fit" (from the smallest free gap). Used at creation only.',
      change: "none",
      defaultText: '`"first-fit"`',
    },
    allocationPools: {
      type: "{ start: string; end: string }[]",
      doc: "The ranges `IpAllocation`s take addresses from; without it, every usable address of the CIDR but the gateway.",
      change: "update",
      default: null,
      defaultText: "every usable address but the gateway",
    },
    gateway: { type: "string", doc: "The gateway's address: never allocated, and outside every pool.", change: "update", default: null, defaultText: "none" },
    reserved: { type: "string[]", doc: "Addresses and CIDRs inside the subnet that are never allocated.", change: "update", default: [] },
    description: { type: "string", doc: "Free text about the subnet.", change: "update", default: "" },
    tags: { type: "Record<string, string>", doc: "Labels: a map of string to string.", change: "update", default: {} },
    childrenOnly: { type: "boolean", doc: "Hand out child subnets only, never addresses directly (a pool).", change: "update", default: false },
    minPrefixLength: { type: "number", doc: "Shortest prefix a child may ask for (its largest size).", change: "update", default: null, defaultText: "no limit" },
    maxPrefixLength: { type: "number", doc: "Longest prefix a child may ask for (its smallest size).", change: "update", default: null, defaultText: "no limit" },
    defaultPrefixLength: { type: "number", doc: "Prefix length of a child that names none.", change: "update", default: null, defaultText: "none (a child must name one)" },
    releaseHoldSeconds: {
      type: "number",
      doc: "Seconds a released address is kept out of next-free, random and bulk picks (hold-down; docs/operations.md). 0 hands it out again at once.",
      change: "update",
      default: 0,
    },
  },
} as const satisfies ResourceContract;

// Check validates every input with the core's create schema, and Update sends each updatable one to
// updateSubnet: a contract input either schema does not know would never be checked or stored.
type SubnetCheckedByCreateSchema = Assert<SameNames<Exclude<RequestInputName<typeof SUBNET_CONTRACT>, keyof CreateSubnetInput>, never>>;
type SubnetUpdatesKnownToUpdateSchema = Assert<SameNames<Exclude<InputsThat<typeof SUBNET_CONTRACT, "update">, keyof UpdateSubnetInput>, never>>;

import type { Assert, RequestInputName, ResourceContract, SameNames } from "./resourceContract.js";
import type { AllocateInput } from "./schemas.js";

/** `IpAllocation`: addresses taken from a subnet. Order matters: it is the order of Diff's `replaces`. */
export const ALLOCATION_CONTRACT = {
  resource: "IpAllocation",
  replaceOrder: "create the new allocation first; release the old one first when a specific address stays in the same subnet",
  inputs: {
    subnetId: { type: "string", doc: "The `subnetId` output of a Subnet (or a StackReference output). Changing it replaces.", change: "replace" },
    address: { type: "string", doc: "A specific address instead of the next free one. Changing it replaces.", change: "replace", defaultText: "the next free one" },
    count: {
      type: "number",
      doc: "How many addresses (default 1). Up adds addresses, down releases the highest; existing ones stay.",
      change: "update",
      default: 1,
    },
    strategy: { type: '"sequential" | "random"', doc: '"sequential" (default: lowest free) or "random" (CSPRNG). Changing it replaces.', change: "replace", default: "sequential" },
    description: { type: "string", doc: "Free text about the allocation.", change: "update", default: "" },
    tags: { type: "Record<string, string>", doc: "Labels: a map of string to string.", change: "update", default: {} },
    adopt: {
      type: "boolean",
      doc:
        "Take over the allocation that already holds `address` (made by the CLI, another tool or another stack) instead of allocating: it becomes this resource's, with this stack as owner, and the previous holder's release or refresh no longer touches it. The explicit adoption path, since `pulumi import` cannot reach dynamic providers.",
      change: "none",
      defaultText: "`false`",
      providerOnly: true,
    },
  },
} as const satisfies ResourceContract;

// Check validates the request with the core's allocate schema: an input it does not know would never be checked.
type AllocationCheckedByAllocateSchema = Assert<SameNames<Exclude<RequestInputName<typeof ALLOCATION_CONTRACT>, keyof AllocateInput>, never>>;

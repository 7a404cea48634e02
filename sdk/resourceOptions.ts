import type * as pulumi from "@pulumi/pulumi";
import { HIDDEN_KEYS } from "../provider/core/resourceContract.js";

/**
 * Outputs that hold a copy of the inputs under another name: the provider keeps the inputs it was
 * given in `__inputs`, because the SDK's dynamic-provider host hands Diff the stored OUTPUTS as the
 * olds. That host answers Configure with `acceptSecrets: false`, so the engine re-marks as secret only
 * outputs NAMED like a secret input (pulumi/pulumi provider_plugin.go, `annotateSecrets`): without
 * this, a secret description or tag would sit in plaintext in `__inputs`. Listed in
 * `additionalSecretOutputs`, the engine marks the copy secret after every step, a no-change one
 * included (step_executor.go), which also seals state written by earlier releases at the next `up`.
 */
const INPUT_COPIES: string[] = [HIDDEN_KEYS.inputs.key];

/**
 * The resource options a Subnet or IpAllocation registers with.
 * @throws for the options our resources cannot honour safely, naming the option and what to use
 *   instead, at program time (so `pulumi preview` fails, and `up` fails before registering it).
 */
export function resourceOptions(type: "Subnet" | "IpAllocation", name: string, opts: pulumi.CustomResourceOptions | undefined): pulumi.CustomResourceOptions {
  if (opts?.deletedWith !== undefined) {
    throw new Error(
      `${type} "${name}": the deletedWith option is not supported. Pulumi would skip this resource's delete when the other resource is deleted, ` +
        `but its ${type === "Subnet" ? "subnet and addresses" : "addresses"} live in the IPAM database and only this resource's own delete releases them ` +
        `(a subnet that still holds allocations cannot be deleted). Remove deletedWith: pulumi destroy already deletes allocations before their subnet.`,
    );
  }
  if (type === "Subnet" && opts?.deleteBeforeReplace === true) {
    throw new Error(
      `Subnet "${name}": the deleteBeforeReplace option is not supported. With it Pulumi replaces the subnet delete-first whatever its provider says, ` +
        `and deletes every allocation and child subnet wired to it before the subnet, releasing their addresses, even those a --target list leaves out. ` +
        `Remove deleteBeforeReplace: the subnet is replaced delete-first when its new CIDR overlaps the old one, and that is refused while it still holds ` +
        `allocations or child subnets (docs/pulumi.md, "Renumbering a subnet").`,
    );
  }
  if (opts?.import !== undefined) {
    const instead =
      type === "IpAllocation"
        ? `use adopt: true with address to take an existing allocation over, or IpAllocation.get("${name}", id) for a read-only reference`
        : `use Subnet.get("${name}", id) for a read-only reference`;
    throw new Error(
      `${type} "${name}": the import option is not supported: the engine reads an imported resource without its serialized provider, ` +
        `which the dynamic-provider host cannot serve. Instead, ${instead}.`,
    );
  }
  return { ...opts, additionalSecretOutputs: [...new Set([...(opts?.additionalSecretOutputs ?? []), ...INPUT_COPIES])] };
}

import { IpamError } from "../core/errors.js";
import type { SubnetHolders } from "../store/index.js";

/**
 * Why a Subnet's delete-first replacement is refused while the subnet holds anything. For a
 * delete-before-replace the engine first deletes every resource wired to the old subnet's id that the
 * replacement would replace (pulumi/pulumi step_generator.go, `calculateDependentReplacements`),
 * targeted or not, then the subnet, then re-creates them: their addresses are released in between,
 * and under `--target` the untargeted ones are re-created from their OLD inputs, against the deleted
 * subnet (`continueStepsFromImport`). Neither the provider nor the SDK sees the target list, and
 * allocations of other stacks would make the subnet's own delete fail only after this stack's were
 * released, so the provider refuses at Diff, before any step runs (docs/pulumi.md, "Renumbering a subnet").
 */
export class DeleteFirstReplacementError extends IpamError {
  readonly subnetId: string;
  constructor(subnetId: string, oldCidr: string, newCidr: string, holders: SubnetHolders) {
    super(
      "SUBNET_IN_USE",
      `subnet ${subnetId} (${oldCidr}) cannot be replaced by ${newCidr} while it holds ${held(holders)}. ` +
        `The new CIDR overlaps the old one in the same namespace, so Pulumi would have to delete the old subnet first, ` +
        `and before it every allocation and child subnet wired to it, releasing their addresses ` +
        `(with --target, the untargeted ones would be re-created against the deleted subnet). Nothing was changed. ` +
        `To renumber: declare the new CIDR as another Subnet (in another namespace, or a CIDR that does not overlap), ` +
        `point the IpAllocations and child subnets at it (each is then replaced create-first: it takes its new address before it releases the old one), ` +
        `and remove the old Subnet; or release its allocations and delete its child subnets first (docs/pulumi.md, "Renumbering a subnet")`,
    );
    this.subnetId = subnetId;
  }
}

function held({ allocations, children }: SubnetHolders): string {
  const part = (count: number, what: string, examples: readonly string[]) =>
    `${count} ${what}${count === 1 ? "" : "s"}${examples.length > 0 ? ` (first: ${examples.join(", ")})` : ""}`;
  const parts = [];
  if (allocations.count > 0) parts.push(part(allocations.count, "allocation", allocations.examples));
  if (children.count > 0) parts.push(part(children.count, "child subnet", children.examples));
  return parts.join(" and ");
}

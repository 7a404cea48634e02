import type { ResourceState } from "./checkpoint.js";
import type { Workers } from "./workers.js";

/** What a resource depends on for delete ordering: dependencies, parent, property dependencies, deletedWith (resource/graph `DependingOn`). */
function dependsOn(r: ResourceState): Set<string> {
  const out = new Set(r.dependencies ?? []);
  if (r.parent !== undefined) out.add(r.parent);
  for (const urns of Object.values(r.propertyDependencies ?? {})) for (const u of urns) out.add(u);
  if (r.deletedWith !== undefined) out.add(r.deletedWith);
  return out;
}

/**
 * ScheduleDeletes (step_generator.go): the condemned resources split into antichains, each one the
 * resources no other remaining condemned resource depends on; an antichain's deletes run in parallel
 * (bounded by the workers) and the next starts when it is done. The first failure stops the schedule
 * after its antichain (the step executor cancels further chains).
 */
export async function runDeletes(condemned: readonly ResourceState[], workers: Workers, deleteOne: (r: ResourceState) => Promise<void>): Promise<void> {
  let left = [...condemned];
  while (left.length > 0) {
    const needed = new Set(left.flatMap((r) => [...dependsOn(r)]));
    const antichain = left.filter((r) => !needed.has(r.urn));
    // A snapshot is acyclic; should one not be, go on in reverse snapshot order rather than stall.
    const chain = antichain.length > 0 ? antichain : [left[left.length - 1]!];
    const results = await Promise.allSettled(chain.map((r) => workers.run(() => deleteOne(r))));
    const failed = results.find((x): x is PromiseRejectedResult => x.status === "rejected");
    if (failed !== undefined) throw failed.reason;
    left = left.filter((r) => !chain.includes(r));
  }
}

export type Skipped = "external" | "retainOnDelete" | "deletedWith";

/**
 * DeleteStep.Apply (step.go): a protected resource is refused unless it is being replaced; an
 * external one is only forgotten, as is one with retainOnDelete, and one whose deletedWith target is
 * deleted in the same run (`isDeletedWith`). Returns why the provider is not asked, or undefined.
 * @throws the engine's `deleteProtectedError` for a protected resource.
 */
export function deleteRule(old: ResourceState, how: { replacing?: boolean; deleting?: ReadonlySet<string> }): Skipped | undefined {
  if (how.replacing !== true && old.protect === true) {
    throw new Error(
      `resource "${old.urn}" cannot be deleted\nbecause it is protected. To unprotect the resource, either remove the \`protect\` flag from the resource in your Pulumi program and run \`pulumi up\`, or use the command:\n\`pulumi state unprotect '${old.urn}'\``,
    );
  }
  if (old.external === true) return "external";
  if (old.retainOnDelete === true) return "retainOnDelete";
  if (old.deletedWith !== undefined && how.deleting?.has(old.deletedWith) === true) return "deletedWith";
  return undefined;
}

import type { ResourceState } from "./checkpoint.js";
import type { Goal } from "./monitor.js";

/** The URNs given to `--target`; undefined when the run is not targeted. */
export type Targets = ReadonlySet<string>;

/** What happens to a resource the --target list leaves out. */
export type Untargeted = { kind: "same" } | { kind: "skip" };

/**
 * step_generator.go, `continueStepsFromImport` / `generateStepsFromDiff` under --target: a resource the
 * list leaves out gets no Check and no Diff; one in the old state is a SameStep keeping its old state,
 * a new one a "skipped create" (a SameStep that records nothing). Returns undefined for a targeted
 * resource (or an untargeted run), which is handled as usual.
 */
export function targetRule(targets: Targets | undefined, urn: string, goal: Goal, old: ResourceState | undefined, _dryRun: boolean): Untargeted | undefined {
  if (targets === undefined || targets.has(urn) || !goal.custom) return undefined;
  return old === undefined ? { kind: "skip" } : { kind: "same" };
}

/** Every URN a registration depends on (resource.State `GetAllDependencies`). */
export function allDependencies(goal: Goal): string[] {
  return [...new Set([...goal.dependencies, ...Object.values(goal.propertyDependencies).flat(), ...(goal.parent === "" ? [] : [goal.parent]), ...(goal.deletedWith === "" ? [] : [goal.deletedWith])])];
}

/**
 * validateSteps (step_generator.go): in a targeted run, a step that depends on a skipped create fails
 * the deployment (diag 2013, sdk/go/common/diag/errors.go) before it runs: the engine will not create
 * something the user did not ask for.
 * @throws naming the resource and the dependency to add to --target.
 */
export function assertNoSkippedDependency(urn: string, goal: Goal, skipped: ReadonlySet<string>): void {
  const missing = allDependencies(goal).find((u) => skipped.has(u));
  if (missing !== undefined) throw new Error(`Resource '${urn}' depends on '${missing}' which was was not specified in --target list.`);
}

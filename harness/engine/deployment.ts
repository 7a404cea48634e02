import type { ProviderHost } from "../providerHost.js";
import type { PendingOperation, Props, ResourceState } from "./checkpoint.js";
import { deleteRule, runDeletes, type Skipped } from "./deleteSchedule.js";
import type { Goal, MonitorHandlers, ReadGoal } from "./monitor.js";
import { carriedPending } from "./pending.js";
import { markAdditionalSecretOutputs } from "./secrets.js";
import { SnapshotWriter } from "./snapshotWriter.js";
import { decide, deepEqual, dependentReplacements, makeUrn, nameOf, stateOf, UNKNOWN, type Decision, type Failure } from "./stepGenerator.js";
import { assertNoSkippedDependency, targetRule, type Targets } from "./targets.js";
import { Serial, Workers } from "./workers.js";
import type { StepStates } from "./previewDigest.js";

/**
 * One `preview` or `up`: answers the program's registrations (MonitorHandlers). The step generator
 * (stepGenerator.ts) handles one registration at a time, as deployment_executor.go `Execute` feeds it
 * events; the steps it makes run on a pool of `--parallel` workers (step_executor.go), so independent
 * resources are created, updated and replaced at once, while a dependent waits: the SDK registers it
 * only once its dependencies answered. After the program exits, the deletes run in antichains
 * (`GenerateDeletes`, `ScheduleDeletes`). The checkpoint is rewritten after every mutation with the
 * operation in flight recorded as pending first (pkg/backend/snapshot.go, `BeginMutation`/`End`).
 */

export { UNKNOWN };

export type Op = "create" | "update" | "replace" | "delete" | "same" | "read" | "refresh" | "import";

export interface Step {
  urn: string;
  type: string;
  name: string;
  op: Op;
  /** replace: the keys the provider (or --replace: "id") blamed. */
  replaces?: string[];
  deleteBeforeReplace?: boolean;
  /** Check failures: the resource is invalid and the deployment stopped. */
  failures?: Failure[];
  /** refresh: the resource no longer exists and left the state. */
  gone?: boolean;
  /** refresh: what the follow-up Diff found (RefreshStep.Apply): "same" or "update". */
  drift?: "same" | "update";
  /** delete: the provider was not asked to delete it (external, retainOnDelete, deletedWith). */
  skipped?: Skipped;
}

export interface DeploymentOptions {
  stack: string;
  project: string;
  /** The provider as the engine sees it (providerPlugin.ts wraps the host). */
  host: ProviderHost;
  dryRun: boolean;
  olds: ResourceState[];
  /** Pending operations of the base snapshot: pending creates are carried into every snapshot (snapshot.go). */
  basePending?: PendingOperation[];
  checkpointFile: string;
  /** URNs given to --replace. */
  replaceTargets: ReadonlySet<string>;
  /** URNs given to --target (none: everything). */
  targets?: Targets;
  /** --parallel (workers). */
  parallel: number;
  /** A StackReference's outputs, by the referenced stack's name. */
  stackOutputs(name: string): Promise<Props>;
  /** Test hook: behave as a CLI killed right after this resource's Create returned (nothing recorded). */
  crashAfterCreate?: string;
}

export class Crash extends Error {}

export class Deployment implements MonitorHandlers {
  readonly steps: Step[] = [];
  readonly messages: string[] = [];
  /** Each step's old and new state, for `pulumi preview --json` (previewDigest.ts). */
  readonly stepStates = new Map<Step, StepStates>();
  /** Why the deployment stopped (the engine bails on the first failed step). */
  failure: Error | undefined;
  private readonly news: ResourceState[] = [];
  /** Old resources still in the snapshot: not yet re-registered, or condemned and not yet deleted. */
  private readonly remaining: ResourceState[];
  private readonly pending: PendingOperation[];
  private readonly seen = new Set<string>();
  /** Deleted ahead of a delete-before-replace of something they depend on: registering them again is a replacement. */
  private readonly deletedForReplacement = new Map<string, ResourceState>();
  private readonly generator = new Serial();
  private readonly workers: Workers;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly writer: SnapshotWriter;
  /** --target: new resources left out of the list (step_generator.go `skippedCreates`). */
  private readonly skippedCreates = new Set<string>();

  constructor(private readonly o: DeploymentOptions) {
    this.remaining = o.olds.map((r) => structuredClone(r));
    this.pending = carriedPending(o.basePending);
    this.workers = new Workers(o.parallel);
    this.writer = new SnapshotWriter(o.checkpointFile, o.stack, () => ({ resources: [...this.news, ...this.remaining], pending: this.pending }), o.dryRun);
  }

  /** Stop taking steps once one failed; remember the first failure. */
  private guard<T>(work: () => Promise<T>): Promise<T> {
    if (this.failure !== undefined) return Promise.reject(new Error(`deployment stopped: ${this.failure.message}`));
    const run = work().catch((error: Error) => {
      this.failure ??= error;
      throw error;
    });
    const tracked = run.catch(() => undefined);
    this.inFlight.add(tracked);
    void tracked.then(() => this.inFlight.delete(tracked));
    return run;
  }

  /** Every step started has ended (the program may exit while a failed run's others still finish). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** A step taken, with the states `preview --json` shows for it. */
  private record(step: Step, states: StepStates): void {
    this.steps.push(step);
    this.stepStates.set(step, states);
  }

  registerResource(goal: Goal) {
    return this.guard(async () => {
      const plan = await this.generator.run(() => this.generate(goal));
      if (plan.state !== undefined) return { urn: plan.urn, id: plan.state.id ?? "", outputs: plan.state.outputs, unknown: this.skippedCreates.has(plan.urn) };
      const state = await this.workers.run(() => this.execute(plan));
      // sameSnapshotMutation.End writes only when mustWrite finds something new; every other step's End writes.
      await this.persist(plan.d?.op !== "same" || plan.old === undefined || sameStepMustWrite(plan.old, state));
      return { urn: plan.urn, id: state.id ?? "", outputs: state.outputs };
    });
  }

  /** The step generator's half: URN, Check, Diff, the decision, and the rules that refuse a step. */
  private async generate(goal: Goal): Promise<Plan> {
    if (this.failure !== undefined) throw new Error(`deployment stopped: ${this.failure.message}`);
    const urn = makeUrn(this.o.stack, this.o.project, goal.parent, goal.type, goal.name);
    if (this.seen.has(urn)) throw new Error(`Duplicate resource URN '${urn}'`);
    this.seen.add(urn);
    const old = this.remaining.find((r) => r.urn === urn && r.delete !== true);
    const base = stateOf(urn, goal);
    const deleted = this.deletedForReplacement.get(urn);
    if (deleted !== undefined && this.o.targets !== undefined && !this.o.targets.has(urn)) {
      // continueStepsFromImport, case 1 ("recreating") comes before the target check: deleted for a
      // dependency's delete-before-replace, it is replaced even when untargeted, and its Check is
      // stubbed to the OLD inputs (`!isTargeted`), so it is re-created from its old inputs.
      this.record({ urn, type: goal.type, name: goal.name, op: "replace", replaces: [], deleteBeforeReplace: true }, { old: deleted, new: { ...base, inputs: deleted.inputs } });
      return { urn, goal, base: { ...base, inputs: deleted.inputs }, old: undefined, d: { op: "create", inputs: deleted.inputs, replaces: [], deleteBeforeReplace: true, failures: [] } };
    }
    const untargeted = targetRule(this.o.targets, urn, goal, old, this.o.dryRun);
    if (untargeted !== undefined) {
      this.record({ urn, type: goal.type, name: goal.name, op: "same" }, { old, new: old ?? base });
      if (untargeted.kind === "skip") {
        this.skippedCreates.add(urn);
        return { urn, goal, base, old, state: { ...base, id: "", outputs: {} } };
      }
      const kept = { ...old!, dependencies: old!.dependencies ?? [] };
      this.replaceOld(old!, kept);
      return { urn, goal, base, old, state: kept };
    }
    if (this.o.targets !== undefined) assertNoSkippedDependency(urn, goal, this.skippedCreates);
    if (goal.importId !== "") return { urn, goal, base, old, d: importDecision(goal), importId: goal.importId };
    // continueStepsFromImport, `wasExternal`: a resource read with `get` last time and registered now is a replacement
    // of nothing the stack owns: the read one is only forgotten, the new one created.
    const external = old?.external === true ? old : undefined;
    const targeted = old !== undefined && external === undefined && this.o.replaceTargets.has(urn);
    const info = (message: string) => this.log("info", message, urn);
    const d = await decide(goal.custom ? this.o.host : undefined, urn, goal, external === undefined ? old : undefined, { dryRun: this.o.dryRun, targetedReplace: targeted, info });
    if (external !== undefined) Object.assign(d, { op: "replace", replaces: ["id"], deleteBeforeReplace: true });
    // continueStepsFromImport, case 1 ("recreating"): deleted earlier for a delete-before-replace, so a replacement.
    if (d.op === "create" && this.deletedForReplacement.has(urn)) Object.assign(d, { op: "replace", replaces: [], deleteBeforeReplace: true });
    const step: Step = { urn, type: goal.type, name: goal.name, op: d.op };
    if (d.op === "replace") Object.assign(step, { replaces: d.replaces, deleteBeforeReplace: d.deleteBeforeReplace });
    this.record(step, { old: old ?? this.deletedForReplacement.get(urn), new: { ...base, inputs: d.inputs } });
    if (d.failures.length > 0) {
      step.failures = d.failures;
      throw new Error(`resource ${urn} is invalid: ${d.failures.map((f) => `${f.property}: ${f.reason}`).join("; ")}`);
    }
    // generateStepsFromDiff: a protected resource cannot be replaced (that entails a delete).
    if (d.op === "replace" && goal.protect && old?.protect === true) {
      throw new Error(
        `unable to replace resource "${urn}"\nas it is currently marked for protection. To unprotect the resource, remove the \`protect\` flag from the resource in your Pulumi program and run \`pulumi up\``,
      );
    }
    return { urn, goal, base: { ...base, inputs: d.inputs }, old, d };
  }

  /** The step executor's half: the provider calls of one step (step.go, each step's `Apply`). */
  private async execute(plan: Plan): Promise<ResourceState> {
    const { d, old, goal } = plan;
    const base = plan.base;
    const secret = (s: ResourceState): ResourceState => ({ ...s, outputs: markAdditionalSecretOutputs(s.outputs, goal.additionalSecretOutputs) });
    if (plan.importId !== undefined) return this.import(base, plan.importId);
    if (d!.op === "same") {
      // SameStep.Apply: the old ID and outputs carry over; step_executor.go then marks additionalSecretOutputs.
      const state = secret({ ...base, id: old!.id, outputs: old!.outputs });
      this.replaceOld(old!, state);
      return state;
    }
    if (d!.op === "update") {
      const state = secret({ ...base, id: old!.id, outputs: await this.update(old!, base) });
      this.replaceOld(old!, state);
      return state;
    }
    if (d!.op === "create" || old === undefined) return this.create(base, secret); // (also: recreating one deleted for a dependency's replacement)
    if (old.external === true) {
      // The read resource is only forgotten (DeleteStep.Apply on an external one), then this one created.
      this.remaining.splice(this.remaining.indexOf(old), 1);
      return this.create(base, secret);
    }
    if (d!.deleteBeforeReplace) {
      // DeleteBeforeReplace: first the dependents that this replacement would replace, in reverse
      // dependency order, then the old one; then the replacement is created.
      for (const dependent of (await dependentReplacements(this.o.host, this.remaining, old)).reverse()) {
        await this.delete(dependent, { replacing: true });
        this.deletedForReplacement.set(dependent.urn, dependent);
      }
      await this.delete(old, { replacing: true });
      return this.create(base, secret);
    }
    // CreateBeforeDelete: the replacement first; the old one is condemned and deleted after every other step.
    const state = await this.create(base, secret);
    old.delete = true;
    return state;
  }

  /** ReadStep.Apply (step.go): `get` and StackReference read live values; the state marks them external. */
  readResource(goal: ReadGoal) {
    return this.guard(async () => {
      const urn = makeUrn(this.o.stack, this.o.project, goal.parent, goal.type, goal.name);
      let outputs: Props;
      if (goal.type === "pulumi:pulumi:StackReference") {
        // builtins.go, readStackReference: the other stack's outputs from the backend.
        outputs = { name: goal.id, outputs: await this.o.stackOutputs(goal.id), secretOutputNames: [] };
      } else if (goal.id === UNKNOWN) {
        outputs = {}; // an id unknown in preview: nothing to read yet
      } else {
        // A user-driven get sends no prior state, only the program's inputs.
        const read = await this.workers.run(() => this.o.host.read(urn, goal.id, {}, goal.inputs));
        // A read answered with no id found nothing: the get fails (this harness's wording).
        if (read.id === "") throw new Error(`reading resource '${goal.id}' (${urn}): resource '${goal.id}' does not exist`);
        outputs = read.properties;
      }
      this.seen.add(urn);
      const state: ResourceState = { urn, custom: true, external: true, id: goal.id, type: goal.type, inputs: goal.inputs, outputs, dependencies: goal.dependencies };
      this.record({ urn, type: goal.type, name: goal.name, op: "read" }, { new: state });
      const old = this.remaining.find((r) => r.urn === urn && r.delete !== true);
      if (old !== undefined && old.external !== true && old.id !== goal.id) {
        // GenerateReadSteps: a resource the stack owned, now read with another id: the owned one is
        // deleted (a replacement of the old by the read one) once the program is done.
        old.delete = true;
        this.news.push(state);
      } else if (old !== undefined) this.replaceOld(old, state);
      else this.news.push(state);
      await this.persist();
      return { urn, outputs };
    });
  }

  registerResourceOutputs(urn: string, outputs: Props) {
    return this.guard(async () => {
      const state = this.news.find((r) => r.urn === urn);
      if (state !== undefined) state.outputs = outputs;
      // snapshot.go RegisterResourceOutputs: elided when the outputs equal the old state's.
      const old = this.o.olds.find((r) => r.urn === urn);
      await this.persist(old === undefined || !deepEqual(old.outputs, outputs));
    });
  }

  log(severity: string, message: string, urn: string): void {
    if (severity === "debug") return;
    this.messages.push(`${severity}: ${urn === "" ? "" : `${nameOf(urn)}: `}${message}`);
  }

  /**
   * After the program: GenerateDeletes (step_generator.go) deletes what it no longer registers and what
   * a create-before-delete replacement condemned, in antichains (ScheduleDeletes). Under --target only
   * targeted ones are deleted.
   */
  async finish(): Promise<void> {
    await this.settled();
    const condemned = this.remaining.filter((r) => r.delete === true || (!this.seen.has(r.urn) && (this.o.targets === undefined || this.o.targets.has(r.urn))));
    const deleting = new Set(condemned.map((r) => r.urn));
    await runDeletes(condemned, this.workers, async (old) => {
      const step: Step = { urn: old.urn, type: old.type, name: nameOf(old.urn), op: "delete" };
      if (old.delete !== true) this.record(step, { old });
      const skipped = await this.delete(old, { deleting });
      if (skipped !== undefined) step.skipped = skipped;
    }).finally(() => this.flush());
  }

  /** CreateStep.Apply; provider_plugin.go `Create`: in preview a provider without preview support hands back its inputs. */
  private async create(base: ResourceState, secret: (s: ResourceState) => ResourceState): Promise<ResourceState> {
    if (this.o.dryRun || !base.custom) {
      const state = { ...base, id: "", outputs: base.custom ? base.inputs : {} };
      this.news.push(state);
      return state;
    }
    const created = await this.mutation({ resource: base, type: "creating" }, async () => {
      const answer = await this.o.host.create(base.urn, base.inputs);
      if (this.o.crashAfterCreate === nameOf(base.urn)) {
        this.writer.stopped = true; // a killed CLI records nothing more: the create stays pending
        throw new Crash(`crashed after creating ${base.urn}`);
      }
      return answer;
    });
    const state = secret({ ...base, id: created.id, outputs: created.properties });
    this.news.push(state);
    return state;
  }

  /** UpdateStep.Apply; provider_plugin.go `Update`: in preview the outputs are the new inputs (computed outputs unknown). */
  private async update(old: ResourceState, base: ResourceState): Promise<Props> {
    if (this.o.dryRun || !base.custom) return base.custom ? base.inputs : old.outputs;
    const { properties } = await this.mutation({ resource: base, type: "updating" }, () => this.o.host.update(base.urn, old.id ?? "", old.outputs, base.inputs));
    return properties;
  }

  /** ImportStep.Apply (step.go): Read with the id alone; what it reads becomes the resource, or the step fails. */
  private async import(base: ResourceState, id: string): Promise<ResourceState> {
    if (this.o.dryRun) return this.news[this.news.push({ ...base, id, outputs: base.inputs }) - 1]!;
    const read = await this.mutation({ resource: { ...base, id }, type: "importing" }, () => this.o.host.read(base.urn, id, {}, {}));
    if (read.id === "") throw new Error(`resource '${id}' does not exist`);
    const state = { ...base, id: read.id, outputs: read.properties };
    this.news.push(state);
    return state;
  }

  /** DeleteStep.Apply (deleteSchedule.ts `deleteRule`), then the provider's Delete unless skipped. */
  private async delete(old: ResourceState, how: { replacing?: boolean; deleting?: ReadonlySet<string> } = {}): Promise<Skipped | undefined> {
    const skipped = deleteRule(old, how);
    if (!this.o.dryRun && old.custom && skipped === undefined) {
      await this.mutation({ resource: old, type: "deleting" }, () => this.o.host.delete(old.urn, old.id ?? "", old.outputs));
    }
    this.remaining.splice(this.remaining.indexOf(old), 1);
    await this.persist();
    return skipped;
  }

  /**
   * One provider call as a snapshot mutation (snapshot.go): pending first, then the call; the pending
   * op ends with the call, failed or not (`End(step, successful)`), and End writes either way: a
   * success's write is the step's own (after it records the result), a failure's is here. A killed
   * CLI writes nothing more, so its op stays pending in the file.
   */
  private async mutation<T>(op: PendingOperation, call: () => Promise<T>): Promise<T> {
    this.pending.push(op);
    await this.persist();
    let failed = true;
    try {
      const result = await call();
      failed = false;
      return result;
    } finally {
      this.pending.splice(this.pending.indexOf(op), 1);
      if (failed) await this.persist();
    }
  }

  private replaceOld(old: ResourceState, state: ResourceState): void {
    this.remaining.splice(this.remaining.indexOf(old), 1);
    this.news.push(state);
  }

  /** A preview never writes; `up` writes the new resources, then the old ones not yet dealt with, and the pending operations. */
  persist(mustWrite = true): Promise<void> {
    return this.writer.persist(mustWrite);
  }

  /** The snapshot manager's Close: the writes elided since the last one, if any. */
  flush(): Promise<void> {
    return this.writer.flush();
  }
}

interface Plan {
  urn: string;
  goal: Goal;
  base: ResourceState;
  old: ResourceState | undefined;
  d?: Decision;
  importId?: string;
  /** Set when no step runs (an untargeted resource): what the program gets back. */
  state?: ResourceState;
}

function importDecision(goal: Goal): Decision {
  return { op: "create", inputs: goal.inputs, replaces: [], deleteBeforeReplace: false, failures: [] };
}

/**
 * sameSnapshotMutation.mustWrite (pkg/backend/snapshot.go), for the fields this model keeps: a same
 * step writes the checkpoint only when the resource's URN, type, kind, retainOnDelete, parent,
 * deletedWith, protect, inputs, outputs or (sorted) dependencies differ from the old state's.
 */
export function sameStepMustWrite(old: ResourceState, now: ResourceState): boolean {
  const sorted = (deps: string[] | undefined) => [...(deps ?? [])].sort();
  return (
    old.urn !== now.urn ||
    old.type !== now.type ||
    old.custom !== now.custom ||
    (old.retainOnDelete ?? false) !== (now.retainOnDelete ?? false) ||
    (old.parent ?? "") !== (now.parent ?? "") ||
    (old.deletedWith ?? "") !== (now.deletedWith ?? "") ||
    (old.protect ?? false) !== (now.protect ?? false) ||
    !deepEqual(old.inputs, now.inputs) ||
    !deepEqual(old.outputs, now.outputs) ||
    !deepEqual(sorted(old.dependencies), sorted(now.dependencies))
  );
}

import type { ProviderHost } from "../providerHost.js";
import { writeCheckpoint, type PendingOperation, type Props, type ResourceState } from "./checkpoint.js";
import type { Goal, MonitorHandlers, ReadGoal } from "./monitor.js";
import { applyReplaceOnChanges, decide, makeUrn, nameOf, type Failure } from "./stepGenerator.js";
import type { StepStates } from "./previewDigest.js";

/**
 * One `preview` or `up`: answers the program's registrations (MonitorHandlers) by generating a step
 * (stepGenerator.ts) and executing it at once, as pulumi/pulumi pkg/resource/deploy/step_executor.go
 * and step.go do (CreateStep/UpdateStep/SameStep/ReplaceStep/DeleteStep/ReadStep `Apply`), then runs
 * the deletes (`GenerateDeletes`) once the program has exited. The checkpoint is rewritten after every
 * mutation, with the operation in flight recorded as pending first (pkg/backend/snapshot.go,
 * `BeginMutation`/`End`), so a crash leaves what the real backend would leave.
 */

export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export type Op = "create" | "update" | "replace" | "delete" | "same" | "read" | "refresh";

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
}

export interface DeploymentOptions {
  stack: string;
  project: string;
  host: ProviderHost;
  dryRun: boolean;
  olds: ResourceState[];
  checkpointFile: string;
  /** URNs given to --replace. */
  replaceTargets: ReadonlySet<string>;
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
  private readonly deletedOlds = new Map<string, ResourceState>();
  /** Why the deployment stopped (the engine bails on the first failed step). */
  failure: Error | undefined;
  private readonly news: ResourceState[] = [];
  /** Old resources still in the snapshot: not yet re-registered, or condemned and not yet deleted. */
  private readonly remaining: ResourceState[];
  private readonly pending: PendingOperation[] = [];
  private readonly seen = new Set<string>();
  /** Deleted ahead of a delete-before-replace of something they depend on: registering them again is a replacement. */
  private readonly deletedForReplacement = new Set<string>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: DeploymentOptions) {
    this.remaining = o.olds.map((r) => structuredClone(r));
  }

  /** One registration at a time: the SDK only sends a resource once its dependencies answered, so order is kept. */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      if (this.failure !== undefined) throw new Error(`deployment stopped: ${this.failure.message}`);
      return work();
    });
    this.queue = run.catch(() => undefined);
    return run.catch((error: Error) => {
      this.failure ??= error;
      throw error;
    });
  }

  registerResource(goal: Goal) {
    return this.serial(async () => {
      const urn = makeUrn(this.o.stack, this.o.project, goal.parent, goal.type, goal.name);
      if (this.seen.has(urn)) throw new Error(`Duplicate resource URN '${urn}'`);
      this.seen.add(urn);
      const old = this.remaining.find((r) => r.urn === urn && r.delete !== true);
      const targeted = old !== undefined && this.o.replaceTargets.has(urn);
      const d = await decide(goal.custom ? this.o.host : undefined, urn, goal, old, { dryRun: this.o.dryRun, targetedReplace: targeted });
      // continueStepsFromImport, case 1 ("recreating"): deleted earlier for a delete-before-replace, so a replacement.
      if (d.op === "create" && this.deletedForReplacement.has(urn)) Object.assign(d, { op: "replace", replaces: [], deleteBeforeReplace: true });
      const step: Step = { urn, type: goal.type, name: goal.name, op: d.op };
      if (d.op === "replace") Object.assign(step, { replaces: d.replaces, deleteBeforeReplace: d.deleteBeforeReplace });
      this.steps.push(step);
      if (d.failures.length > 0) {
        step.failures = d.failures;
        throw new Error(`resource ${urn} is invalid: ${d.failures.map((f) => `${f.property}: ${f.reason}`).join("; ")}`);
      }
      const base: ResourceState = {
        urn,
        custom: goal.custom,
        type: goal.type,
        inputs: d.inputs,
        outputs: {},
        ...(goal.parent === "" ? {} : { parent: goal.parent }),
        dependencies: goal.dependencies,
        propertyDependencies: goal.propertyDependencies,
        ...(goal.ignoreChanges.length > 0 ? { ignoreChanges: goal.ignoreChanges } : {}),
        ...(goal.replaceOnChanges.length > 0 ? { replaceOnChanges: goal.replaceOnChanges } : {}),
        ...(goal.protect ? { protect: true } : {}),
      };
      this.stepStates.set(step, { old: old ?? this.deletedOlds.get(urn), new: base });
      let state: ResourceState;
      if (d.op === "same") {
        // SameStep.Apply: the old ID and outputs carry over.
        state = { ...base, id: old!.id, outputs: old!.outputs };
        this.replaceOld(old!, state);
      } else if (d.op === "update") {
        state = { ...base, id: old!.id, outputs: await this.update(old!, base) };
        this.replaceOld(old!, state);
      } else if (d.op === "create") {
        state = await this.create(base);
      } else if (old === undefined) {
        state = await this.create(base); // recreating a resource deleted for a dependency's delete-before-replace
      } else if (d.deleteBeforeReplace) {
        // DeleteBeforeReplace: first the dependents that this replacement would replace, in reverse
        // dependency order, then the old one; then the replacement is created.
        for (const dependent of (await this.dependentReplacements(old)).reverse()) {
          await this.delete(dependent);
          this.deletedForReplacement.add(dependent.urn);
          this.deletedOlds.set(dependent.urn, dependent);
        }
        await this.delete(old);
        state = await this.create(base);
      } else {
        // CreateBeforeDelete: the replacement first; the old one is condemned and deleted after every other step.
        state = await this.create(base);
        old!.delete = true;
      }
      await this.persist();
      return { urn, id: state.id ?? "", outputs: state.outputs };
    });
  }

  /** ReadStep.Apply (step.go): `get` and StackReference read live values; the state marks them external. */
  readResource(goal: ReadGoal) {
    return this.serial(async () => {
      const urn = makeUrn(this.o.stack, this.o.project, goal.parent, goal.type, goal.name);
      let outputs: Props;
      if (goal.type === "pulumi:pulumi:StackReference") {
        // builtins.go, readStackReference: the other stack's outputs from the backend.
        outputs = { name: goal.id, outputs: await this.o.stackOutputs(goal.id), secretOutputNames: [] };
      } else if (goal.id === UNKNOWN) {
        outputs = {}; // an id unknown in preview: nothing to read yet
      } else {
        // A user-driven get sends no prior state, only the program's inputs.
        const read = await this.o.host.read(urn, goal.id, {}, goal.inputs);
        // A read answered with no id found nothing: the get fails (this harness's wording).
        if (read.id === "") throw new Error(`reading resource '${goal.id}' (${urn}): resource '${goal.id}' does not exist`);
        outputs = read.properties;
      }
      this.seen.add(urn);
      const step: Step = { urn, type: goal.type, name: goal.name, op: "read" };
      this.steps.push(step);
      const state: ResourceState = { urn, custom: true, external: true, id: goal.id, type: goal.type, inputs: goal.inputs, outputs, dependencies: goal.dependencies };
      this.stepStates.set(step, { new: state });
      const old = this.remaining.find((r) => r.urn === urn);
      if (old !== undefined) this.replaceOld(old, state);
      else this.news.push(state);
      await this.persist();
      return { urn, outputs };
    });
  }

  registerResourceOutputs(urn: string, outputs: Props) {
    return this.serial(async () => {
      const state = this.news.find((r) => r.urn === urn);
      if (state !== undefined) state.outputs = outputs;
      await this.persist();
    });
  }

  log(severity: string, message: string, urn: string): void {
    if (severity === "debug") return;
    this.messages.push(`${severity}: ${urn === "" ? "" : `${nameOf(urn)}: `}${message}`);
  }

  /**
   * After the program: GenerateDeletes (step_generator.go) deletes what it no longer registers and what
   * a create-before-delete replacement condemned, in reverse dependency order (the snapshot's order
   * is a dependency order, so its reverse is safe).
   */
  async finish(): Promise<void> {
    await this.queue;
    const doomed = this.remaining.filter((r) => r.delete === true || !this.seen.has(r.urn)).reverse();
    for (const old of doomed) {
      if (old.delete !== true) {
        const step: Step = { urn: old.urn, type: old.type, name: nameOf(old.urn), op: "delete" };
        this.steps.push(step);
        this.stepStates.set(step, { old });
      }
      await this.delete(old);
    }
    await this.persist();
  }

  /** CreateStep.Apply; provider_plugin.go `Create`: in preview a provider without preview support hands back its inputs. */
  private async create(base: ResourceState): Promise<ResourceState> {
    if (this.o.dryRun || !base.custom) {
      const state = { ...base, id: "", outputs: base.custom ? base.inputs : {} };
      this.news.push(state);
      return state;
    }
    const op: PendingOperation = { resource: base, type: "creating" };
    this.pending.push(op);
    await this.persist();
    const created = await this.o.host.create(base.urn, base.inputs);
    if (this.o.crashAfterCreate === nameOf(base.urn)) throw new Crash(`crashed after creating ${base.urn}`);
    this.pending.splice(this.pending.indexOf(op), 1);
    const state = { ...base, id: created.id, outputs: created.properties };
    this.news.push(state);
    await this.persist();
    return state;
  }

  /** UpdateStep.Apply; provider_plugin.go `Update`: in preview the outputs are the new inputs (computed outputs unknown). */
  private async update(old: ResourceState, base: ResourceState): Promise<Props> {
    if (this.o.dryRun || !base.custom) return base.custom ? base.inputs : old.outputs;
    const op: PendingOperation = { resource: base, type: "updating" };
    this.pending.push(op);
    await this.persist();
    const { properties } = await this.o.host.update(base.urn, old.id ?? "", old.outputs, base.inputs);
    this.pending.splice(this.pending.indexOf(op), 1);
    return properties;
  }

  /** DeleteStep.Apply: the provider deletes custom resources the stack owns; external ones are only forgotten. */
  private async delete(old: ResourceState): Promise<void> {
    if (!this.o.dryRun && old.custom && old.external !== true) {
      const op: PendingOperation = { resource: old, type: "deleting" };
      this.pending.push(op);
      await this.persist();
      await this.o.host.delete(old.urn, old.id ?? "", old.outputs);
      this.pending.splice(this.pending.indexOf(op), 1);
    }
    this.remaining.splice(this.remaining.indexOf(old), 1);
    await this.persist();
  }

  /**
   * calculateDependentReplacements (step_generator.go): every resource whose inputs come from one being
   * replaced is diffed with those inputs unknown; those the provider would then replace join the set.
   * Returned in dependency (snapshot) order.
   */
  private async dependentReplacements(root: ResourceState): Promise<ResourceState[]> {
    const replaceSet = new Set([root.urn]);
    const out: ResourceState[] = [];
    for (const r of this.remaining) {
      if (!r.custom || r.external === true || r.delete === true || r === root) continue;
      const affected = Object.entries(r.propertyDependencies ?? {}).filter(([, urns]) => urns.some((u) => replaceSet.has(u)));
      if (affected.length === 0) continue;
      const inputs: Props = { ...r.inputs };
      for (const [key] of affected) inputs[key] = UNKNOWN;
      const diff = await this.o.host.diff(r.urn, r.id ?? "", r.outputs, inputs);
      if (diff.changes === 2 && applyReplaceOnChanges(diff.replaces, diff.diffs, r.replaceOnChanges ?? []).length > 0) {
        replaceSet.add(r.urn);
        out.push(r);
      }
    }
    return out;
  }

  private replaceOld(old: ResourceState, state: ResourceState): void {
    this.remaining.splice(this.remaining.indexOf(old), 1);
    this.news.push(state);
  }

  /** A preview never writes; `up` writes the new resources, then the old ones not yet dealt with. */
  async persist(): Promise<void> {
    if (this.o.dryRun) return;
    await writeCheckpoint(this.o.checkpointFile, this.o.stack, [...this.news, ...this.remaining], this.pending);
  }
}

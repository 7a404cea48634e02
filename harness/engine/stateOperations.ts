import type { ProviderHost } from "../providerHost.js";
import type { PendingOperation, ResourceState } from "./checkpoint.js";
import type { Step } from "./deployment.js";
import { deleteRule, runDeletes } from "./deleteSchedule.js";
import { carriedPending } from "./pending.js";
import { markAdditionalSecretOutputs } from "./secrets.js";
import { SnapshotWriter } from "./snapshotWriter.js";
import { inputsEqual, nameOf } from "./stepGenerator.js";
import { Workers } from "./workers.js";

/** The snapshot an operation starts from. */
export interface Latest {
  resources: ResourceState[];
  pending_operations?: PendingOperation[];
}

export interface RefreshOptions {
  /** `--clear-pending-creates`: drop the pending creates first (the CREATE failed, or was redone by a later up). */
  clearPendingCreates?: boolean;
  parallel?: number;
}

const DIFF_UNKNOWN = 0;
const DIFF_SOME = 2;

/**
 * `pulumi refresh` (without running the program), non-interactive. refresh.go: `--clear-pending-creates`
 * removes pending creates before anything else (`filterMapPendingCreates`); without it they stay.
 * RefreshStep.Apply (step.go), for each custom resource on the workers: Read with the old inputs and
 * outputs; a blank id means it is gone and leaves the state; otherwise the read outputs replace the
 * old ones (and the inputs, when the provider returns some), additionalSecretOutputs are marked
 * (step_executor.go), and a follow-up Diff, framed as the `up` that would follow (new inputs and
 * outputs as olds, old inputs as news), says whether the resource drifted: `drift` "update" or "same".
 */
export async function refresh(host: ProviderHost, file: string, stack: string, latest: Latest, o: RefreshOptions & { parallel: number }): Promise<Step[]> {
  const pending = carriedPending(latest.pending_operations).filter(() => o.clearPendingCreates !== true);
  const results = new Map<ResourceState, { step: Step; state?: ResourceState }>();
  const workers = new Workers(o.parallel);
  await Promise.all(
    latest.resources.map(async (r) => {
      if (!r.custom || r.type === "pulumi:pulumi:StackReference") return;
      await workers.run(async () => {
        const read = await host.read(r.urn, r.id ?? "", r.outputs, r.inputs);
        const step: Step = { urn: r.urn, type: r.type, name: nameOf(r.urn), op: "refresh" };
        if (read.id === "") return results.set(r, { step: { ...step, gone: true } });
        const inputs = Object.keys(read.inputs).length > 0 ? read.inputs : r.inputs;
        const state = { ...r, inputs, outputs: markAdditionalSecretOutputs(read.properties, r.additionalSecretOutputs) };
        if (r.external !== true) {
          const diff = await host.diff(r.urn, r.id ?? "", state.outputs, r.inputs);
          const changed = diff.changes === DIFF_SOME || (diff.changes === DIFF_UNKNOWN && !inputsEqual(inputs, r.inputs));
          step.drift = changed ? "update" : "same";
        }
        results.set(r, { step, state });
      });
    }),
  );
  const kept = latest.resources.flatMap((r) => {
    const result = results.get(r);
    if (result === undefined) return [r];
    return result.state === undefined ? [] : [result.state];
  });
  await new SnapshotWriter(file, stack, () => ({ resources: kept, pending })).persist();
  return latest.resources.flatMap((r) => results.get(r)?.step ?? []);
}

/**
 * `pulumi destroy`: a DeleteStep for every resource, in antichains (ScheduleDeletes) on the workers,
 * each under DeleteStep.Apply's rules (protect refuses, external/retainOnDelete/deletedWith only
 * forget). The first failure stops the destroy after its antichain; what was deleted stays deleted.
 */
export async function destroy(host: ProviderHost, file: string, stack: string, latest: Latest, parallel: number): Promise<Step[]> {
  const steps: Step[] = [];
  const left = [...latest.resources];
  const pending = carriedPending(latest.pending_operations);
  const writer = new SnapshotWriter(file, stack, () => ({ resources: left, pending }));
  const deleting = new Set(latest.resources.map((r) => r.urn));
  await runDeletes(latest.resources, new Workers(parallel), async (r) => {
    const skipped = deleteRule(r, { deleting });
    if (r.custom && skipped === undefined) {
      const op: PendingOperation = { resource: r, type: "deleting" };
      pending.push(op);
      await writer.persist();
      try {
        await host.delete(r.urn, r.id ?? "", r.outputs);
      } catch (error) {
        // deleteSnapshotMutation.End(step, false) writes too: the op is no longer pending.
        pending.splice(pending.indexOf(op), 1);
        await writer.persist();
        throw error;
      }
      pending.splice(pending.indexOf(op), 1);
    }
    steps.push({ urn: r.urn, type: r.type, name: nameOf(r.urn), op: "delete", ...(skipped === undefined ? {} : { skipped }) });
    left.splice(left.indexOf(r), 1);
    await writer.persist();
  }).finally(() => writer.flush());
  return steps;
}

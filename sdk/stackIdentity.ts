import * as pulumi from "@pulumi/pulumi";
import { QuietDynamicResource } from "./quietDynamicResource.js";

/**
 * The stack's identity: a random id kept in the stack's own state by a resource of its own, created
 * the first time the stack deploys an IPAM resource. Every Subnet and IpAllocation sends it as the
 * hidden input `__stack`, which goes into its idempotency key: two stacks with the same
 * project/stack name in different backends (self-managed backends all report the organization
 * "organization") never share a subnet or an allocation, while a create retried after a crash in
 * the same stack sends the same id. It survives the crash because the engine checkpoints a
 * resource before it hands that resource's outputs to any dependent (pkg/resource/deploy/
 * step_executor.go, executeStep: OnResourceStepPost before the step's completion callback): no
 * IPAM resource ever used an id the checkpoint does not hold. See docs/identity.md.
 */
class StackIdentity extends QuietDynamicResource {
  declare readonly stackId: pulumi.Output<string>;

  constructor(name: string) {
    super(stackIdentityProvider(), name, { stackId: undefined }, {}, "ipam", "StackIdentity");
  }
}

/** Self-contained (nothing to load, no database): it only makes the id once and keeps it. */
function stackIdentityProvider(): pulumi.dynamic.ResourceProvider {
  return {
    create: async () => {
      const stackId: string = (process as any).getBuiltinModule("node:crypto").randomUUID();
      return { id: stackId, outs: { stackId } };
    },
    // Nothing to compare: the id never changes once made, so it never updates or replaces.
    diff: async () => ({ changes: false }),
    read: async (id: any, props: any) => ({ id, props: { ...props, stackId: props?.stackId ?? id } }),
    delete: async () => undefined,
  } as pulumi.dynamic.ResourceProvider;
}

/** The name of the stack's identity resource in its state. */
export const STACK_IDENTITY_NAME = "pulumi-ipam-stack";

// One per program run: keyed by the run's resource monitor (a new one per automation-API run or
// per setMocks call), so a second run in the same process registers its own resource.
const perRun = new WeakMap<object, pulumi.Output<string>>();
const noMonitor = {};

/** This stack's identity, registering its resource the first time a run asks. */
export function stackIdentity(): pulumi.Output<string> {
  const key = (pulumi.runtime.getMonitor() as object | undefined) ?? noMonitor;
  let id = perRun.get(key);
  if (id === undefined) {
    id = new StackIdentity(STACK_IDENTITY_NAME).stackId;
    perRun.set(key, id);
  }
  return id;
}

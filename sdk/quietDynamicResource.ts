import * as pulumi from "@pulumi/pulumi";

/**
 * A dynamic resource whose registration formats no stack trace per property.
 *
 * The SDK's `transferProperties` (runtime/rpc.ts) makes four promises per property of a resource,
 * and `debuggablePromise` (runtime/debuggable.ts) formats a stack trace for each of them at once
 * (`new Error().stack`). Under the TypeScript runner every frame of it is then mapped through
 * source maps (ts-node's source-map-support). An IpAllocation registers 15 properties: 60
 * formatted stacks, which took ~6 ms of the program's single thread per allocation, most of a
 * 1,000-allocation program's time before its first registration reached the engine (docs/
 * benchmark-round-3.md, "Scenario 13, pass six"). Those stacks appear only in the SDK's report of
 * promises still unresolved at exit, which names the resource and property anyway. So our
 * resources register with no frames captured, and an error the SDK throws meanwhile gets the stack
 * of where it surfaces in the user's program instead of none. The SDK's own capture of the
 * resource's source position (`Resource.callsites`) sets its own frame limit and is unaffected.
 */
export abstract class QuietDynamicResource extends pulumi.dynamic.Resource {
  constructor(
    provider: pulumi.dynamic.ResourceProvider,
    name: string,
    props: pulumi.Inputs,
    opts: pulumi.CustomResourceOptions | undefined,
    module: string,
    type: string,
  ) {
    const frames = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(provider, name, props, opts, module, type);
    } catch (error) {
      Error.stackTraceLimit = frames;
      if (error instanceof Error) Error.captureStackTrace(error, QuietDynamicResource);
      throw error;
    }
    Error.stackTraceLimit = frames;
  }
}

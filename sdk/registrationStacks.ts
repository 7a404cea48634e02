/**
 * Stack traces captured while the SDK registers one of our resources.
 *
 * The SDK's `transferProperties` (runtime/rpc.ts) makes four promises per property of a resource,
 * and `debuggablePromise` (runtime/debuggable.ts) formats a stack trace for each of them at once
 * (`new Error().stack`). Under the TypeScript runner every frame of it is then mapped through
 * source maps (ts-node's source-map-support). An IpAllocation registers 15 properties: 60
 * formatted stacks, which took ~6 ms of the program's single thread per allocation, most of a
 * 1,000-allocation program's time before its first registration reached the engine (docs/
 * benchmark-round-3.md, "Scenario 13, pass six"). Those stacks appear only in the SDK's report of
 * promises still unresolved at exit, which names the resource and property anyway. So our
 * constructors register with no frames captured, and an error thrown meanwhile gets the stack of
 * where it surfaces in the user's program instead of none.
 *
 * Constructors cannot call `super` from a helper, so the pair is used around it:
 * `const frames = suspendStacks(); try { super(...) } catch (e) { resumeStacks(frames, e); throw e } resumeStacks(frames);`
 */
export function suspendStacks(): number {
  const frames = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  return frames;
}

/** Put the frame limit back; an error thrown while it was suspended gets its stack from here. */
export function resumeStacks(frames: number, error?: unknown): void {
  Error.stackTraceLimit = frames;
  if (error instanceof Error) Error.captureStackTrace(error, resumeStacks);
}

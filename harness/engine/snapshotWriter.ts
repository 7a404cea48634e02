import { writeCheckpoint, type PendingOperation, type ResourceState } from "./checkpoint.js";

/**
 * Writes a stack's checkpoint from a live view of its resources and pending operations, as the DIY
 * backend's SnapshotManager does (pkg/backend/snapshot.go). Every mutation is one request, served
 * in turn by one loop (`defaultServiceLoop`), and a request that must write saves the whole snapshot
 * before the step that made it goes on (`mutate` waits for its result): requests made while a write
 * runs each get a write of their own, nothing is coalesced. A request whose mutator says nothing
 * changed (a same step with nothing new, `sameSnapshotMutation.mustWrite`; equal outputs,
 * `RegisterResourceOutputs`) writes nothing, and such elided writes are flushed by the next write or
 * at the end (`flush`, the loop's last act on Close).
 */
export class SnapshotWriter {
  private chain: Promise<void> = Promise.resolve();
  /** defaultServiceLoop's `hasElidedWrites`, true until the first write. */
  private elided = true;
  /** Set when the CLI "dies": nothing more reaches the file. */
  stopped = false;

  constructor(
    private readonly file: string,
    private readonly stack: string,
    private readonly view: () => { resources: ResourceState[]; pending: PendingOperation[] },
    private readonly dryRun = false,
  ) {}

  /** One mutation: a write of the whole checkpoint when `mustWrite`, else an elided one. */
  persist(mustWrite = true): Promise<void> {
    return this.serve(() => mustWrite);
  }

  /** Close: a last write only when writes were elided since the one before. */
  flush(): Promise<void> {
    return this.serve(() => this.elided);
  }

  private serve(write: () => boolean): Promise<void> {
    if (this.dryRun || this.stopped) return Promise.resolve();
    const next = this.chain.then(async () => {
      if (this.stopped) return;
      if (!write()) {
        this.elided = true;
        return;
      }
      const { resources, pending } = this.view();
      await writeCheckpoint(this.file, this.stack, resources, pending);
      this.elided = false;
    });
    this.chain = next.catch(() => undefined);
    return next;
  }
}

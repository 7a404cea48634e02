import { writeCheckpoint, type PendingOperation, type ResourceState } from "./checkpoint.js";

/**
 * Writes a stack's checkpoint from a live view of its resources and pending operations. Writes are
 * serialized, and a request made while one runs is served by the next write, so steps running in
 * parallel never interleave two writes (the backend's snapshot manager serializes its mutations).
 */
export class SnapshotWriter {
  private chain: Promise<void> = Promise.resolve();
  private requested = 0;
  private written = 0;
  /** Set when the CLI "dies": nothing more reaches the file. */
  stopped = false;

  constructor(
    private readonly file: string,
    private readonly stack: string,
    private readonly view: () => { resources: ResourceState[]; pending: PendingOperation[] },
    private readonly dryRun = false,
  ) {}

  persist(): Promise<void> {
    if (this.dryRun || this.stopped) return Promise.resolve();
    const want = ++this.requested;
    const next = this.chain.then(async () => {
      if (this.written >= want || this.stopped) return;
      const at = this.requested;
      const { resources, pending } = this.view();
      await writeCheckpoint(this.file, this.stack, resources, pending);
      this.written = at;
    });
    this.chain = next.catch(() => undefined);
    return next;
  }
}

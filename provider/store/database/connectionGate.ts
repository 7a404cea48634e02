import { PoolTimeoutError } from "../../core/errors.js";

/**
 * A bounded wait for one of the pool's connections. slonik's pool queues requests for a free
 * connection with no timeout, and under backend kills a request could wait there for a connection
 * nothing would ever hand it. So at most `size` operations (the pool's size) run at once, each
 * holding one connection; the rest wait here, first come first served, and give up after
 * `waitMs` with PoolTimeoutError (retryable: nothing was sent to the server).
 */
export class ConnectionGate {
  private free: number;
  private readonly waiting: { grant: () => void; timer: NodeJS.Timeout }[] = [];

  constructor(
    readonly size: number,
    private readonly waitMs: number,
  ) {
    this.free = size;
  }

  /**
   * Run `work` once a connection slot is free.
   * @throws PoolTimeoutError when no slot frees up within the wait; whatever `work` throws
   */
  async run<T>(doing: string, work: () => Promise<T>): Promise<T> {
    await this.acquire(doing);
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  /** Operations running, and waiting for a slot (for tests and the bench). */
  state(): { running: number; waiting: number } {
    return { running: this.size - this.free, waiting: this.waiting.length };
  }

  private acquire(doing: string): Promise<void> {
    if (this.free > 0 && this.waiting.length === 0) {
      this.free -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          clearTimeout(entry.timer);
          resolve();
        },
        timer: setTimeout(() => {
          const index = this.waiting.indexOf(entry);
          if (index >= 0) this.waiting.splice(index, 1);
          reject(new PoolTimeoutError(doing, this.size, this.waitMs));
        }, this.waitMs),
      };
      this.waiting.push(entry);
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    // The slot passes straight to the next waiter, so a newcomer cannot overtake the queue.
    if (next !== undefined) next.grant();
    else this.free += 1;
  }
}

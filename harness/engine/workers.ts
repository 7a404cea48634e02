import { availableParallelism } from "node:os";

/**
 * `--parallel`'s default: four per CPU, or PULUMI_PARALLEL when set (pkg/cmd/pulumi/operations/up.go,
 * `defaultParallel`: runtime.GOMAXPROCS(0) * 4).
 */
export function defaultParallel(env: NodeJS.ProcessEnv = process.env): number {
  const fromEnv = Number(env.PULUMI_PARALLEL);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : availableParallelism() * 4;
}

/**
 * The step executor's workers (pkg/resource/deploy/step_executor.go, `NewStepExecutor`: one worker per
 * degree of parallelism): at most `size` steps run their provider calls at once; the rest wait their turn.
 */
export class Workers {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`--parallel must be a positive integer, not ${size}`);
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.running--;
    }
  }
}

/** One at a time, in call order: the step generator handles one event at a time (deployment_executor.go, `Execute`). */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const run = this.tail.then(work);
    this.tail = run.catch(() => undefined);
    return run;
  }
}

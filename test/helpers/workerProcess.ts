import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

/** A worker script under test/helpers/workers, run by the same Node as the tests (24). */
export function workerScript(name: string): string {
  return fileURLToPath(new URL(`./workers/${name}`, import.meta.url));
}

export interface WorkerHandle<R> {
  readonly child: ChildProcess;
  /** Resolves when the worker reports `ready` (all its connections open). */
  readonly ready: Promise<void>;
  /** Resolves with the worker's `done` report; rejects if it exits first. */
  readonly done: Promise<R>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  go(): void;
  /** Everything the worker wrote to stdout and stderr so far. */
  output(): string;
}

/**
 * Fork `script` with `config` as its JSON argument. Output is captured (and still visible through
 * `output()`), so a test can assert on what a process printed.
 */
export function startWorker<R>(script: string, config: unknown, env: NodeJS.ProcessEnv = process.env): WorkerHandle<R> {
  const child = fork(script, [JSON.stringify(config)], { execPath: process.execPath, env, stdio: ["ignore", "pipe", "pipe", "ipc"] });
  const chunks: string[] = [];
  child.stdout!.on("data", (chunk: Buffer) => chunks.push(chunk.toString("utf8")));
  child.stderr!.on("data", (chunk: Buffer) => chunks.push(chunk.toString("utf8")));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const early = (what: string) =>
    exited.then(({ code, signal }) => {
      throw new Error(`worker exited (code ${code}, signal ${signal}) before ${what}; output:\n${chunks.join("").slice(-2000)}`);
    });
  const ready = Promise.race([
    new Promise<void>((resolve) => child.on("message", (message: { type?: string }) => message?.type === "ready" && resolve())),
    early("it was ready"),
  ]);
  const done = Promise.race([
    new Promise<R>((resolve) => child.on("message", (message: { type?: string; report?: R }) => message?.type === "done" && resolve(message.report as R))),
    early("it reported"),
  ]);
  // Callers may kill a worker on purpose and never await these.
  ready.catch(() => undefined);
  done.catch(() => undefined);
  return { child, ready, done, exited, go: () => child.send("go"), output: () => chunks.join("") };
}

/**
 * Start one worker per config, wait until every one is ready, run `beforeGo` (e.g. to check that
 * all connections are open), release them together and collect their reports. Workers still
 * running when this returns or throws are killed.
 */
export async function runWorkersTogether<R>(
  script: string,
  configs: readonly unknown[],
  beforeGo: () => Promise<void> = async () => undefined,
): Promise<R[]> {
  const workers = configs.map((config) => startWorker<R>(script, config));
  try {
    await Promise.all(workers.map((worker) => worker.ready));
    await beforeGo();
    for (const worker of workers) worker.go();
    const reports = await Promise.all(workers.map((worker) => worker.done));
    // Let them close their pools cleanly; whatever is still running after that is killed below.
    await Promise.race([Promise.all(workers.map((worker) => worker.exited)), new Promise((resolve) => setTimeout(resolve, 5_000))]);
    return reports;
  } finally {
    for (const worker of workers) if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill("SIGKILL");
  }
}

import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const WORKER = fileURLToPath(new URL("./workers/allocationWorker.mjs", import.meta.url));

export interface WorkerReport<T> {
  readonly results: T[];
  readonly errors: Record<string, number | string[]>;
}

/**
 * Start `processes` worker processes, wait until every one has all its connections open, then
 * release them together (the barrier) and collect their reports.
 */
export async function runWorkers<T>(processes: number, config: Record<string, unknown>, worker = WORKER): Promise<WorkerReport<T>[]> {
  const children: ChildProcess[] = [];
  const ready: Promise<void>[] = [];
  const done: Promise<WorkerReport<T>>[] = [];
  for (let i = 0; i < processes; i += 1) {
    const child = fork(worker, [JSON.stringify(config)], { execPath: process.execPath, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    children.push(child);
    ready.push(new Promise((resolve, reject) => {
      child.on("message", (message: { type: string }) => message.type === "ready" && resolve());
      child.once("exit", (code) => reject(new Error(`worker exited with ${code} before it was ready`)));
    }));
    done.push(new Promise((resolve, reject) => {
      child.on("message", (message: { type: string } & WorkerReport<T>) => message.type === "done" && resolve(message));
      child.once("exit", (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)));
    }));
  }
  try {
    await Promise.all(ready);
    for (const child of children) child.send("go");
    return await Promise.all(done);
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill();
  }
}

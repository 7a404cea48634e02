import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { peakRssMiB } from "./processStatus.js";

/** The built CLI (bench runs from dist/bench, beside dist/provider). */
const CLI = fileURLToPath(new URL("../provider/cli/main.js", import.meta.url));
/**
 * The Node flags on the bin's `#!` line: `ipam` as installed runs with them (npm links the bin, and
 * the kernel runs its `#!`), so the bench runs the file the same way rather than as `node main.js`.
 */
const BIN_FLAGS = (readFileSync(CLI, "utf8").split("\n", 1)[0]!.match(/^#!\/usr\/bin\/env -S node\s(.*)$/)?.[1] ?? "").split(/\s+/).filter(Boolean);
/** How often the child's VmHWM is read: a high-water mark, so only growth in the last interval could be missed. */
const SAMPLE_MS = 20;

export interface CliRun {
  readonly ms: number;
  /** Highest VmHWM read from /proc while the command ran (NaN without /proc). */
  readonly peakRssMiB: number;
  readonly stdout: string;
}

/**
 * Run the real `ipam` CLI as a child process against `url`, timing it and sampling its peak
 * resident set size.
 * @throws Error with the command's stderr when it exits non-zero
 */
export async function runCli(url: string, args: readonly string[]): Promise<CliRun> {
  const started = performance.now();
  const child = spawn(process.execPath, [...BIN_FLAGS, CLI, ...args], { env: { ...process.env, IPAM_DATABASE_URL: url, CI: "true" }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr = (stderr + chunk).slice(-2_000)));
  let peak = Number.NaN;
  const sampler = setInterval(() => {
    void peakRssMiB(child.pid!).then((mib) => {
      if (Number.isFinite(mib) && !(mib <= peak)) peak = mib;
    });
  }, SAMPLE_MS);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", resolve);
  }).finally(() => clearInterval(sampler));
  if (code !== 0) throw new Error(`ipam ${args[0]} exited ${code}: ${stderr.trim()}`);
  return { ms: performance.now() - started, peakRssMiB: peak, stdout };
}

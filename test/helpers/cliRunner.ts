import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../../dist/provider/cli/main.js", import.meta.url));

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Run the real `ipam` binary (the compiled bin, `npm run build` first) as a subprocess with this
 * Node. The environment is the caller's only: nothing leaks in from the test runner's, so a stray
 * DATABASE_URL or IPAM_DATABASE_URL cannot decide which database a test talks to.
 */
export async function runCli(args: readonly string[], env: Record<string, string>, stdin?: string): Promise<CliResult> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` before the CLI tests`);
  const base = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", NO_COLOR: "1", CI: process.env.CI ?? "" };
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [MAIN, ...args], { env: { ...base, ...env }, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
    if (stdin !== undefined) child.stdin?.end(stdin);
    else child.stdin?.end();
  });
}

/** stdout parsed as JSON, failing with the whole output when it is not. */
export function jsonOf<T = any>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
}

/** The `--json` error object a failed command writes to stderr. */
export function jsonError(result: CliResult): { code: string; message: string; issues?: { field: string; reason: string }[] } & Record<string, unknown> {
  return JSON.parse(result.stderr.trim().split("\n").at(-1)!).error;
}

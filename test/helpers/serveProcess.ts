import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../../dist/provider/cli/main.js", import.meta.url));

export interface ServeProcess {
  /** The URL `ipam serve` printed as its first stdout line. */
  readonly url: string;
  /** Every stdout line so far (the first is the URL). */
  readonly lines: readonly string[];
  readonly stderr: () => string;
  stop(): Promise<number | null>;
}

/**
 * Start the real `ipam serve` (the compiled bin) and wait for the URL on its first stdout line, or
 * for it to exit (then reject with its code and stderr). The environment is the caller's only.
 */
export function startServe(args: readonly string[], env: Record<string, string>): Promise<ServeProcess> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
  const base = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", NO_COLOR: "1", CI: process.env.CI ?? "" };
  const child: ChildProcess = spawn(process.execPath, [MAIN, "serve", ...args], { env: { ...base, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      lines.push(line);
      if (lines.length === 1) {
        resolve({
          url: line,
          lines,
          stderr: () => stderr,
          stop: async () => {
            if (child.exitCode === null) child.kill("SIGTERM");
            return exited;
          },
        });
      }
    });
    void exited.then((code) => reject(new ServeExit(code, stderr)));
  });
}

export class ServeExit extends Error {
  constructor(
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`ipam serve exited with ${code}: ${stderr}`);
  }
}

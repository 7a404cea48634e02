import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { dirname, delimiter, join, resolve } from "node:path";

/** The repository this test run checks out. */
export const repoRoot = resolve(import.meta.dirname, "..", "..");

/**
 * The install tests pack, clone and install (slow, and independent of the database under test), so
 * CI runs them in one of its two passes: IPAM_SKIP_INSTALL_TESTS=1 skips them in the other.
 */
export const skipInstallTests = process.env.IPAM_SKIP_INSTALL_TESTS === "1";

export interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * A user's shell: this Node (24, which the package needs) first on PATH, none of this repository's
 * node_modules/.bin, no npm_* variables from the `npm test` that started us, no database URL.
 */
export function userEnvironment(extra: Record<string, string> = {}): Record<string, string> {
  const path = (process.env.PATH ?? "").split(delimiter).filter((entry) => entry !== "" && !entry.includes(`node_modules${"/"}.bin`));
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || key.toLowerCase().startsWith("npm_") || key === "DATABASE_URL" || key === "IPAM_DATABASE_URL" || key === "NODE_OPTIONS") continue;
    if (key.startsWith("VITEST") || key === "NODE_ENV" || key === "TEST") continue;
    env[key] = value;
  }
  return { ...env, PATH: [dirname(process.execPath), ...path].join(delimiter), NO_COLOR: "1", ...extra };
}

/** Run a command to its end (bounded), never throwing: the caller asserts on the result. */
export function runCommand(command: string, args: readonly string[], cwd: string, env: Record<string, string> = userEnvironment(), timeoutMs = 300_000): Promise<Ran> {
  return new Promise((done) => {
    execFile(command, [...args], { cwd, env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      done({ code, stdout: String(stdout), stderr: String(stderr) + (error !== null && code === -1 ? `\n${error.message}` : "") });
    });
  });
}

/** What `npm install` prints when it fails, trimmed for an assertion message. */
export function describeRun(label: string, ran: Ran): string {
  return `${label} exited ${ran.code}\n${ran.stdout.slice(-2000)}\n${ran.stderr.slice(-4000)}`;
}

/** The flags every install here uses: the npm cache first (CI has filled it), the registry when it must. */
export const NPM_INSTALL_FLAGS = ["--prefer-offline", "--no-audit", "--no-fund"];

/**
 * `npm pack` of the built working tree into `into` (its scripts skipped: `npm test` has just built
 * dist/, and `prepare` would rebuild it under the feet of the tests that run the CLI).
 * @returns the tarball's path
 */
export async function packTarball(into: string): Promise<string> {
  if (!existsSync(join(repoRoot, "dist", "sdk", "index.js"))) throw new Error("dist/ is missing: run `npm run build` (npm test does) first");
  const packed = await runCommand("npm", ["pack", "--ignore-scripts", "--pack-destination", into, "--json"], repoRoot);
  if (packed.code !== 0) throw new Error(describeRun("npm pack", packed));
  const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];
  return join(into, filename);
}

/** A fresh user project that depends on the package through `spec` (a tarball path or a git URL). */
export async function userProject(directory: string, spec: string, devDependencies: Record<string, string> = {}): Promise<void> {
  await mkdir(directory, { recursive: true });
  const manifest = { name: "user-project", private: true, type: "module", dependencies: { "pulumi-ipam": spec }, devDependencies };
  await writeFile(join(directory, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Give `directory` the node_modules of an installed user project (the examples share one install). */
export async function shareNodeModules(directory: string, installed: string): Promise<void> {
  await symlink(join(installed, "node_modules"), join(directory, "node_modules"), "dir");
}

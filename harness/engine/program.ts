import { spawn } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The checkout this harness lives in (from harness/engine or dist/harness/engine). */
const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, here.includes(`${join("dist", "harness")}`) ? "../../.." : "../..");

/**
 * How a program's working copy gets `pulumi-ipam` and `@pulumi/pulumi`: given the copy's directory,
 * make both importable from it. The default links this checkout (its built dist/); a test of the
 * published package passes one that installs the npm-packed tarball instead.
 */
export type ProvideSdk = (workDir: string) => Promise<unknown>;

/** node_modules/pulumi-ipam -> this checkout, node_modules/@pulumi/pulumi -> its copy (one SDK instance). */
export const linkCheckout: ProvideSdk = async (workDir) => {
  await mkdir(join(workDir, "node_modules", "@pulumi"), { recursive: true });
  await symlink(repoRoot, join(workDir, "node_modules", "pulumi-ipam"), "dir");
  await symlink(join(repoRoot, "node_modules", "@pulumi", "pulumi"), join(workDir, "node_modules", "@pulumi", "pulumi"), "dir");
};

/**
 * pulumi-ipam in the copy's node_modules as `npm install` puts it: package.json and the files it
 * publishes (its `files`) COPIED, every other dependency linked from this repository's node_modules
 * (they are not under test). Needs `npm run build` first. What a user's program has: the SDK's
 * closure serializer then finds the package under node_modules and names its provider by module
 * (host/lazyProvider.cjs), where a linked checkout gets the provider's code copied instead.
 * @returns the package's directory
 */
export async function installPackage(workDir: string): Promise<string> {
  const modules = join(workDir, "node_modules");
  await mkdir(modules, { recursive: true });
  for (const entry of await readdir(join(repoRoot, "node_modules"))) {
    if (entry === "pulumi-ipam" || entry.startsWith(".")) continue;
    await symlink(join(repoRoot, "node_modules", entry), join(modules, entry), "dir");
  }
  const packageDir = join(modules, "pulumi-ipam");
  const manifest = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as { files: string[] };
  for (const published of ["package.json", ...manifest.files]) await cp(join(repoRoot, published), join(packageDir, published), { recursive: true });
  return packageDir;
}

/** A fresh working copy of `programDir` (the example stays untouched), with the SDK provided. */
export async function workingCopy(programDir: string, provideSdk: ProvideSdk = linkCheckout): Promise<string> {
  const workDir = await mkdtemp(join(tmpdir(), "ipam-program-"));
  await cp(programDir, workDir, { recursive: true, filter: (src) => !src.includes("node_modules") });
  await provideSdk(workDir);
  return workDir;
}

/** The directories editedProgram made in this process, until removeEditedPrograms removes them. */
const editedDirs = new Set<string>();

/**
 * A copy of `programDir` whose index.ts is `edit(original)`: how tests change a program between runs.
 * A stack runs a working copy of it (workingCopy), so the copy can go once the test file ends:
 * test/helpers/removeEditedPrograms.ts removes them after each file.
 */
export async function editedProgram(programDir: string, edit: (source: string) => string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "ipam-edited-"));
  editedDirs.add(dir);
  await cp(programDir, dir, { recursive: true, filter: (src) => !src.includes("node_modules") });
  const file = join(dir, "index.ts");
  const before = await readFile(file, "utf8");
  const after = edit(before);
  if (after === before) throw new Error(`editedProgram: the edit changed nothing in ${file}`);
  await writeFile(file, after);
  return dir;
}

/** Removes every directory editedProgram made in this process. */
export async function removeEditedPrograms(): Promise<void> {
  const dirs = [...editedDirs];
  editedDirs.clear();
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
}

/** Pulumi.yaml's project name and nodejs runtime options (the language host reads the same). */
export async function projectOf(programDir: string): Promise<{ name: string; typescript: boolean }> {
  const yaml = await readFile(join(programDir, "Pulumi.yaml"), "utf8");
  const name = /^name:\s*(\S+)\s*$/m.exec(yaml)?.[1];
  if (name === undefined) throw new Error(`no project name in ${programDir}/Pulumi.yaml`);
  return { name, typescript: /^\s+typescript:\s*true\s*$/m.test(yaml) };
}

export interface RunOptions {
  workDir: string;
  monitorAddress: string;
  organization: string;
  project: string;
  stack: string;
  dryRun: boolean;
  typescript: boolean;
  /** Stack config, "namespace:key" -> value. */
  config: Record<string, string>;
  secretKeys: string[];
  env?: NodeJS.ProcessEnv;
  /** The engine's --parallel, which the language host passes on (the SDK bounds its own concurrent RPCs with it). */
  parallel?: number;
  /** Bound on the whole program run. */
  timeoutMs?: number;
}

/**
 * Run the program as pulumi-language-nodejs does (sdk/nodejs/cmd/pulumi-language-nodejs/main.go,
 * `execNodejs` and `constructArguments`/`constructConfig`): `node <sdk>/cmd/run --monitor --engine
 * --organization --project --stack --pwd [--dry-run] --parallel <entrypoint .>`, config as JSON in
 * PULUMI_CONFIG with keys rewritten to "namespace:config:key", PULUMI_NODEJS_TYPESCRIPT when
 * Pulumi.yaml asks for TypeScript. The SDK's own run script loads index.ts (package.json main).
 */
export async function runProgram(opts: RunOptions): Promise<{ code: number | null; output: string }> {
  const runScript = join(opts.workDir, "node_modules", "@pulumi", "pulumi", "cmd", "run", "index.js");
  const config = Object.fromEntries(Object.entries(opts.config).map(([k, v]) => [k.replace(/^([^:]+):/, "$1:config:"), v]));
  const args = [
    runScript,
    "--monitor", opts.monitorAddress,
    "--engine", opts.monitorAddress,
    "--organization", opts.organization,
    "--project", opts.project,
    "--stack", opts.stack,
    "--pwd", opts.workDir,
    ...(opts.dryRun ? ["--dry-run"] : []),
    "--query-mode", "false",
    "--parallel", String(opts.parallel ?? 16),
    ".",
  ];
  const env: NodeJS.ProcessEnv = {
    ...(opts.env ?? process.env),
    PULUMI_CONFIG: JSON.stringify(config),
    PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(opts.secretKeys),
    ...(opts.typescript ? { PULUMI_NODEJS_TYPESCRIPT: "true" } : {}),
  };
  const child = spawn(process.execPath, args, { cwd: opts.workDir, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
  const code = await new Promise<number | null>((res) => child.once("close", res));
  clearTimeout(timer);
  return { code, output };
}

import { rm } from "node:fs/promises";
import { join } from "node:path";
import { HOST_SCRIPT, startProviderHost, type ProviderHost } from "../providerHost.js";
import { checkpointPath, passphraseOf, readCheckpoint, stackOutputs, type Props, type ResourceState } from "./checkpoint.js";
import { Crash, Deployment, type Step } from "./deployment.js";
import { pendingOperationsWarning } from "./pending.js";
import { secretsUnawarePlugin } from "./providerPlugin.js";
import { destroy, refresh, type RefreshOptions } from "./stateOperations.js";
import { startMonitor } from "./monitor.js";
import { linkCheckout, projectOf, runProgram, workingCopy, type ProvideSdk } from "./program.js";
import { stripSecrets } from "./secrets.js";
import { nameOf } from "./stepGenerator.js";
import { defaultParallel } from "./workers.js";
import { previewDigest, type PreviewDigest } from "./previewDigest.js";

export interface StackOptions {
  /** A Pulumi project directory (Pulumi.yaml, package.json, index.ts); it is copied, never changed. */
  programDir: string;
  stack: string;
  /** The DIY backend's root: checkpoints live at <backendDir>/.pulumi/stacks/<project>/<stack>.json. */
  backendDir: string;
  /** Stack config, "namespace:key" -> value, e.g. { "ipam:databaseUrl": url }. */
  config?: Record<string, string>;
  /** Config keys that are secrets (default: ipam:databaseUrl). */
  secretKeys?: string[];
  /** Defaults to Pulumi.yaml's name. */
  project?: string;
  /** The DIY backend's organization (default "organization"). */
  organization?: string;
  /** Environment of the program and the provider host (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** How the program's copy gets pulumi-ipam and @pulumi/pulumi (default: links to this checkout). */
  provideSdk?: ProvideSdk;
  /** `--parallel` for every operation of this stack (default as the CLI's: 4 per CPU, or PULUMI_PARALLEL). */
  parallel?: number;
  /** Bound on one run of the program (default 120 s); the bench's 1,000-resource programs need longer. */
  programTimeoutMs?: number;
}

export interface UpOptions {
  /** `--replace`: resource names or URNs to replace. */
  replace?: string[];
  /** `--target`: resource names or URNs; only these are created, updated, replaced or deleted. */
  target?: string[];
  /** `--parallel` for this run (overrides the stack's). */
  parallel?: number;
  /** Test hook: stop as a CLI killed right after this resource's Create returned. */
  crashAfterCreate?: string;
}

/** A failed preview/up: `steps` as far as the engine got (a step with `failures` is why), program output. */
export class DeploymentError extends Error {
  constructor(
    message: string,
    readonly steps: Step[],
    readonly output: string,
  ) {
    super(message);
  }
}

export interface Stack {
  readonly name: string;
  readonly project: string;
  readonly checkpointFile: string;
  /** Run a different program (an edited copy) from now on. */
  setProgram(programDir: string): void;
  preview(opts?: Pick<UpOptions, "replace" | "target" | "parallel">): Promise<Step[]>;
  /** What `pulumi preview --json` printed for the last preview (PreviewDigest). */
  previewJson(): PreviewDigest;
  up(opts?: UpOptions): Promise<Step[]>;
  /** `pulumi refresh` (non-interactive): `{ clearPendingCreates: true }` is `--clear-pending-creates`. */
  refresh(opts?: RefreshOptions): Promise<Step[]>;
  destroy(opts?: { parallel?: number }): Promise<Step[]>;
  /** The stack's outputs as last recorded (`pulumi stack output --show-secrets`: secrets unwrapped). */
  outputs(): Promise<Props>;
  /** The checkpoint's resources, secrets as `{ [SECRET_SIG]: SECRET_VALUE, value }` (see secrets.ts). */
  state(): Promise<ResourceState[]>;
  /** What the last preview or up logged (warnings and errors: the program's and the engine's). */
  messages(): string[];
  /** Stop the provider host and remove the program's working copies. */
  close(): Promise<void>;
}

/** Open (or create, on first `up`) a stack of a Pulumi program in a DIY backend directory. */
export async function openStack(opts: StackOptions): Promise<Stack> {
  let programDir = opts.programDir;
  const project = opts.project ?? (await projectOf(programDir)).name;
  const organization = opts.organization ?? "organization";
  const config = opts.config ?? {};
  const file = checkpointPath(opts.backendDir, project, opts.stack);
  const copies = new Map<string, Promise<string>>();
  let host: Promise<ProviderHost> | undefined;

  const programCopy = () => copies.get(programDir) ?? copies.set(programDir, workingCopy(programDir, opts.provideSdk ?? linkCheckout)).get(programDir)!;
  // One SDK dynamic-provider host per stack, configured with the stack's config as the engine configures
  // the pulumi-nodejs provider; it caches providers by their serialized `__provider`, as under the CLI.
  // Started as the engine starts the plugin: in the program's directory (provider_plugin.go, NewProvider:
  // newPlugin(ctx, ctx.Pwd, ...)), running the host script the program's node_modules holds (the shim
  // sdk/nodejs/dist/pulumi-resource-pulumi-nodejs resolves @pulumi/pulumi/cmd/dynamic-provider from there).
  const providerHost = () =>
    (host ??= programCopy().then(async (workDir) => {
      const h = await startProviderHost(opts.env ?? process.env, { cwd: workDir, hostScript: join(workDir, "node_modules", HOST_SCRIPT) });
      await h.configure(config);
      return secretsUnawarePlugin(h);
    }));
  const passphrase = passphraseOf(opts.env ?? process.env);
  const load = async () => (await readCheckpoint(file, passphrase))?.checkpoint.latest;
  const parallelOf = (o: { parallel?: number }) => o.parallel ?? opts.parallel ?? defaultParallel(opts.env ?? process.env);
  let lastMessages: string[] = [];
  let lastDigest: PreviewDigest = {};

  async function deploy(dryRun: boolean, up: UpOptions = {}): Promise<Step[]> {
    const latest = await load();
    const olds = latest?.resources ?? [];
    const urnOf = (target: string) => olds.find((r) => r.urn === target || nameOf(r.urn) === target)?.urn ?? target;
    const deployment = new Deployment({
      stack: opts.stack,
      project,
      host: await providerHost(),
      dryRun,
      olds,
      checkpointFile: file,
      replaceTargets: new Set((up.replace ?? []).map(urnOf)),
      ...(up.target === undefined ? {} : { targets: new Set(up.target.map(urnOf)) }),
      parallel: parallelOf(up),
      basePending: latest?.pending_operations ?? [],
      stackOutputs: (name) => referencedOutputs(opts.backendDir, project, name),
      ...(up.crashAfterCreate === undefined ? {} : { crashAfterCreate: up.crashAfterCreate }),
    });
    lastMessages = deployment.messages;
    const secretKeys = opts.secretKeys ?? Object.keys(config).filter((k) => k === "ipam:databaseUrl");
    const digest = () => (lastDigest = previewDigest({ steps: deployment.steps, states: deployment.stepStates, config, secretKeys, messages: deployment.messages }));
    // deployment_executor.go `Execute`: pending operations of an interrupted run are warned about (not in
    // preview); pending creates stay in every snapshot until a refresh resolves them (pending.ts).
    const pending = latest?.pending_operations ?? [];
    if (pending.length > 0 && !dryRun) deployment.log("warning", pendingOperationsWarning(pending), "");
    const workDir = await programCopy();
    const monitor = await startMonitor(deployment);
    let run: { code: number | null; output: string };
    try {
      run = await runProgram({
        workDir,
        monitorAddress: monitor.address,
        organization,
        project,
        stack: opts.stack,
        dryRun,
        parallel: parallelOf(up),
        typescript: (await projectOf(programDir)).typescript,
        config,
        secretKeys,
        ...(opts.env === undefined ? {} : { env: opts.env }),
        ...(opts.programTimeoutMs === undefined ? {} : { timeoutMs: opts.programTimeoutMs }),
      });
    } finally {
      await monitor.close();
    }
    await deployment.settled();
    const failure = deployment.failure;
    if (dryRun) digest();
    if (failure instanceof Crash) throw new DeploymentError(failure.message, deployment.steps, run.output);
    if (run.code !== 0 || failure !== undefined) {
      await deployment.flush();
      const why = failure?.message ?? `the program exited with code ${run.code}`;
      const said = [...deployment.messages, run.output].join("\n");
      throw new DeploymentError(`${dryRun ? "preview" : "update"} failed: ${why}\n${said}`, deployment.steps, said);
    }
    try {
      await deployment.finish();
    } catch (error) {
      // A delete after the program failed (a protected resource, the provider's refusal): the run stops there.
      const said = deployment.messages.join("\n");
      throw new DeploymentError(`${dryRun ? "preview" : "update"} failed: ${(error as Error).message}\n${said}`, deployment.steps, said);
    }
    if (dryRun) digest();
    return deployment.steps;
  }

  return {
    name: opts.stack,
    project,
    checkpointFile: file,
    setProgram(dir) {
      programDir = dir;
    },
    preview: (o) => deploy(true, o),
    previewJson: () => structuredClone(lastDigest),
    up: (o) => deploy(false, o),
    refresh: async (o = {}) => refresh(await providerHost(), file, opts.stack, (await load()) ?? { resources: [] }, { parallel: parallelOf(o), ...o }),
    destroy: async (o = {}) => destroy(await providerHost(), file, opts.stack, (await load()) ?? { resources: [] }, parallelOf(o)),
    outputs: async () => stripSecrets(stackOutputs((await load())?.resources ?? [])),
    state: async () => (await load())?.resources ?? [],
    messages: () => [...lastMessages],
    async close() {
      if (host !== undefined) await (await host).close();
      host = undefined;
      await Promise.all([...copies.values()].map(async (dir) => rm(await dir, { recursive: true, force: true })));
      copies.clear();
    },
  };
}

/** A StackReference name: "org/project/stack", "project/stack" or "stack" (this project), as the DIY backend parses it. */
async function referencedOutputs(backendDir: string, project: string, name: string): Promise<Props> {
  const parts = name.split("/");
  const [refProject, refStack] = parts.length >= 2 ? [parts[parts.length - 2]!, parts[parts.length - 1]!] : [project, name];
  const checkpoint = await readCheckpoint(checkpointPath(backendDir, refProject, refStack));
  if (checkpoint === undefined) throw new Error(`unknown stack "${name}"`);
  return stackOutputs(checkpoint.checkpoint.latest.resources);
}

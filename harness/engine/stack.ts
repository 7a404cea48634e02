import { rm } from "node:fs/promises";
import { join } from "node:path";
import { HOST_SCRIPT, startProviderHost, type ProviderHost } from "../providerHost.js";
import { checkpointPath, readCheckpoint, stackOutputs, writeCheckpoint, type Props, type ResourceState } from "./checkpoint.js";
import { Crash, Deployment, type Step } from "./deployment.js";
import { startMonitor } from "./monitor.js";
import { linkCheckout, projectOf, runProgram, workingCopy, type ProvideSdk } from "./program.js";
import { nameOf } from "./stepGenerator.js";

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
  /** Bound on one run of the program (default 120 s); the bench's 1,000-resource programs need longer. */
  programTimeoutMs?: number;
}

export interface UpOptions {
  /** `--replace`: resource names or URNs to replace. */
  replace?: string[];
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
  preview(): Promise<Step[]>;
  up(opts?: UpOptions): Promise<Step[]>;
  refresh(): Promise<Step[]>;
  destroy(): Promise<Step[]>;
  /** The stack's outputs as last recorded (`pulumi stack output`). */
  outputs(): Promise<Props>;
  /** The checkpoint's resources. */
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
      return h;
    }));
  const load = async () => (await readCheckpoint(file))?.checkpoint.latest;
  let lastMessages: string[] = [];

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
      stackOutputs: (name) => referencedOutputs(opts.backendDir, project, name),
      ...(up.crashAfterCreate === undefined ? {} : { crashAfterCreate: up.crashAfterCreate }),
    });
    lastMessages = deployment.messages;
    // Pending operations of an interrupted run are reported and dropped: the engine cannot know whether
    // they completed (a pending create is simply created again; the provider's idempotency makes that safe).
    for (const p of latest?.pending_operations ?? []) deployment.log("warning", `interrupted while ${p.type}: ${p.resource.urn}`, "");
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
        typescript: (await projectOf(programDir)).typescript,
        config,
        secretKeys: opts.secretKeys ?? Object.keys(config).filter((k) => k === "ipam:databaseUrl"),
        ...(opts.env === undefined ? {} : { env: opts.env }),
        ...(opts.programTimeoutMs === undefined ? {} : { timeoutMs: opts.programTimeoutMs }),
      });
    } finally {
      await monitor.close();
    }
    const failure = deployment.failure;
    if (failure instanceof Crash) throw new DeploymentError(failure.message, deployment.steps, run.output);
    if (run.code !== 0 || failure !== undefined) {
      await deployment.persist();
      const why = failure?.message ?? `the program exited with code ${run.code}`;
      const said = [...deployment.messages, run.output].join("\n");
      throw new DeploymentError(`${dryRun ? "preview" : "update"} failed: ${why}\n${said}`, deployment.steps, said);
    }
    await deployment.finish();
    return deployment.steps;
  }

  return {
    name: opts.stack,
    project,
    checkpointFile: file,
    setProgram(dir) {
      programDir = dir;
    },
    preview: () => deploy(true),
    up: (o) => deploy(false, o),
    refresh: async () => refresh(await providerHost(), file, opts.stack, (await load())?.resources ?? []),
    destroy: async () => destroy(await providerHost(), file, opts.stack, (await load())?.resources ?? []),
    outputs: async () => stackOutputs((await load())?.resources ?? []),
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

/**
 * `pulumi refresh` (without running the program): RefreshStep.Apply (step.go) reads each custom
 * resource with its old inputs and outputs; a blank id means it is gone and leaves the state;
 * otherwise the read outputs replace the old ones, and the inputs too when the provider returns some.
 */
async function refresh(host: ProviderHost, file: string, stack: string, resources: ResourceState[]): Promise<Step[]> {
  const steps: Step[] = [];
  const kept: ResourceState[] = [];
  for (const r of resources) {
    if (!r.custom || r.type === "pulumi:pulumi:StackReference") {
      kept.push(r);
      continue;
    }
    const read = await host.read(r.urn, r.id ?? "", r.outputs, r.inputs);
    const gone = read.id === "";
    steps.push({ urn: r.urn, type: r.type, name: nameOf(r.urn), op: "refresh", ...(gone ? { gone: true } : {}) });
    if (!gone) kept.push({ ...r, outputs: read.properties, inputs: Object.keys(read.inputs).length > 0 ? read.inputs : r.inputs });
  }
  await writeCheckpoint(file, stack, kept, []);
  return steps;
}

/** `pulumi destroy`: DeleteStep for every resource, in reverse dependency (snapshot) order. */
async function destroy(host: ProviderHost, file: string, stack: string, resources: ResourceState[]): Promise<Step[]> {
  const steps: Step[] = [];
  const left = [...resources];
  for (const r of [...resources].reverse()) {
    if (r.custom && r.external !== true) await host.delete(r.urn, r.id ?? "", r.outputs);
    steps.push({ urn: r.urn, type: r.type, name: nameOf(r.urn), op: "delete" });
    left.splice(left.indexOf(r), 1);
    await writeCheckpoint(file, stack, left, []);
  }
  return steps;
}

/** A StackReference name: "org/project/stack", "project/stack" or "stack" (this project), as the DIY backend parses it. */
async function referencedOutputs(backendDir: string, project: string, name: string): Promise<Props> {
  const parts = name.split("/");
  const [refProject, refStack] = parts.length >= 2 ? [parts[parts.length - 2]!, parts[parts.length - 1]!] : [project, name];
  const checkpoint = await readCheckpoint(checkpointPath(backendDir, refProject, refStack));
  if (checkpoint === undefined) throw new Error(`unknown stack "${name}"`);
  return stackOutputs(checkpoint.checkpoint.latest.resources);
}

import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { installPackage, openStack, repoRoot, type ProvideSdk, type Stack } from "../../harness/engine/index.js";
import type { BenchContext } from "../benchContext.js";
import { allocationWeight, type AllocationWeight } from "../checkpointWeight.js";
import { ratio, round } from "../measure.js";
import { cpuMs, peakRssMiB } from "../processStatus.js";
import { check, type ScenarioResult } from "../scenarioResult.js";

const SUBNETS = 10;

/** Our program: `allocations` IpAllocations spread over SUBNETS subnets of their own namespace. */
function ipamProgram(allocations: number, namespace: string): string {
  return `import { IpAllocation, Subnet } from "pulumi-ipam";
const subnets = Array.from({ length: ${SUBNETS} }, (_, i) => new Subnet(\`net\${i}\`, { cidr: \`10.\${100 + i}.0.0/20\`, namespace: ${JSON.stringify(namespace)} }));
for (let i = 0; i < ${allocations}; i += 1) new IpAllocation(\`a\${i}\`, { subnetId: subnets[i % ${SUBNETS}]!.subnetId });
`;
}

/** The same resource graph through a dynamic provider that does nothing: the SDK and engine's own cost. */
function noopProgram(allocations: number): string {
  return `import * as pulumi from "@pulumi/pulumi";
const provider: pulumi.dynamic.ResourceProvider = {
  check: async (_olds: any, news: any) => ({ inputs: news }),
  create: async (inputs: any) => ({ id: String(inputs.key), outs: inputs }),
  delete: async () => {},
};
class Noop extends pulumi.dynamic.Resource {
  declare readonly key: pulumi.Output<string>;
  constructor(name: string, props: Record<string, pulumi.Input<unknown>>) {
    super(provider, name, { ...props, key: name }, undefined, "noop");
  }
}
const subnets = Array.from({ length: ${SUBNETS} }, (_, i) => new Noop(\`net\${i}\`, { cidr: \`10.\${100 + i}.0.0/20\` }));
for (let i = 0; i < ${allocations}; i += 1) new Noop(\`a\${i}\`, { subnetId: subnets[i % ${SUBNETS}]!.key });
`;
}

/**
 * The no-op again, with a state as large as ours: its Create answers the fields ours answers (a
 * claim, the database identity, a secret copy of the inputs, the address...), and its provider
 * captures a string sized so that one allocation's stored state weighs what ours does (measured,
 * see `calibratedPadding`). The engine rewrites the whole checkpoint on every step
 * (harness/engine/snapshotWriter.ts), so what a resource's state weighs is paid per step: this side
 * says how much of ours ÷ no-op is that weight (no database, no provider work) and how much is our
 * provider's own time. Its Create lives in `shape.cjs` beside the program, loaded from the host's
 * working directory, so its `__provider` text (stored twice per resource) starts shorter than ours
 * and the padding can make up the difference.
 */
function paddedNoopProgram(allocations: number, padding: number): string {
  return `import * as pulumi from "@pulumi/pulumi";
const pad = ${JSON.stringify("x".repeat(padding))};
const provider: pulumi.dynamic.ResourceProvider = {
  check: async (_olds: any, news: any) => ({ inputs: pad.length >= 0 ? news : {} }),
  create: async (inputs: any) => (process as any).getBuiltinModule("module").createRequire(\`\${process.cwd()}/\`)("./shape.cjs")(inputs),
  delete: async () => {},
};
class Noop extends pulumi.dynamic.Resource {
  declare readonly key: pulumi.Output<string>;
  constructor(name: string, props: Record<string, pulumi.Input<unknown>>) {
    super(provider, name, { ...props, key: name, __owner: \`bench-up-noop/bench/\${name}\`, __scope: "bench-up", __stack: "organization/bench-up-noop/bench" }, { additionalSecretOutputs: ["__inputs"] }, "noop");
  }
}
const subnets = Array.from({ length: ${SUBNETS} }, (_, i) => new Noop(\`net\${i}\`, { cidr: \`10.\${100 + i}.0.0/20\` }));
for (let i = 0; i < ${allocations}; i += 1) new Noop(\`a\${i}\`, { subnetId: subnets[i % ${SUBNETS}]!.key });
`;
}

/** The padded no-op's Create: our output keys and value kinds (provider/dynamic/allocationProvider.ts `outputs`), no work. */
const PADDED_SHAPE = `module.exports = (inputs) => ({
  id: String(inputs.key),
  outs: {
    ...inputs,
    __claim: "0f6b1c9e-3a5d-4b1e-9c1f-2d3e4f5a6b7c", __database: "7d1f0a52-94b8-4c36-a1e2-5b8c9d0e1f2a",
    __inputs: { subnetId: inputs.subnetId ?? "" },
    allocationId: String(inputs.key).length.toString(), address: "10.100.0.10", addresses: ["10.100.0.10"], count: 1,
    strategy: "sequential", prefixLength: 20, gateway: null, owner: inputs.__owner, description: "", tags: {},
  },
});
`;

/** A Pulumi project directory holding `source` as index.ts (TypeScript, as the examples). */
async function projectDir(name: string, source: string, extra: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `ipam-bench-${name}-`));
  await writeFile(join(dir, "Pulumi.yaml"), `name: ${name}\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n`);
  await writeFile(join(dir, "package.json"), JSON.stringify({ name, private: true, type: "module", main: "index.ts" }));
  await cp(join(repoRoot, "examples", "quickstart", "tsconfig.json"), join(dir, "tsconfig.json"));
  await writeFile(join(dir, "index.ts"), source);
  for (const [file, text] of Object.entries(extra)) await writeFile(join(dir, file), text);
  return dir;
}

/** The SDK dynamic-provider hosts this process started (the engine model spawns one per stack). */
async function providerHostPids(): Promise<number[]> {
  const tasks = await readdir(`/proc/${process.pid}/task`).catch(() => [] as string[]);
  const pids: number[] = [];
  for (const task of tasks) {
    const children = await readFile(`/proc/${process.pid}/task/${task}/children`, "utf8").catch(() => "");
    for (const pid of children.split(/\s+/).filter(Boolean).map(Number)) {
      const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
      if (cmdline.includes("dynamic-provider")) pids.push(pid);
    }
  }
  return pids;
}

interface Run {
  readonly upMs: number;
  readonly destroyMs: number;
  readonly hostCpuMs: number;
  readonly hostPeakRssMiB: number;
  /** This process's CPU (the engine model: checkpoint writes, gRPC) over up and destroy. */
  readonly engineCpuMs: number;
  /** The checkpoint's size after `up`, per resource. */
  readonly checkpointBytesPerResource: number;
  /** One allocation's stored state after `up`. */
  readonly allocation: AllocationWeight;
}

const ownCpuMs = () => {
  const used = process.cpuUsage();
  return (used.user + used.system) / 1000;
};

/**
 * How each side's program gets its packages: ours has pulumi-ipam installed in its node_modules as
 * `npm install` puts it, so it stores the provider text a user's stack stores (host/lazyProvider.cjs);
 * the no-op sides need only the SDK (linked, as every harness program has it).
 */
const PACKAGES: Record<Side, ProvideSdk | undefined> = { ours: installPackage, noop: undefined, padded: undefined };

/** `pulumi up` then `pulumi destroy` of one program through the engine model, timed, with its host's CPU and peak RSS. */
async function upAndDestroy(programDir: string, config: Record<string, string>, expected: number, provideSdk: ProvideSdk | undefined): Promise<Run> {
  const backendDir = await mkdtemp(join(tmpdir(), "ipam-bench-backend-"));
  let stack: Stack | undefined;
  try {
    const before = new Set(await providerHostPids());
    stack = await openStack({ programDir, stack: "bench", backendDir, config, programTimeoutMs: 3_600_000, ...(provideSdk === undefined ? {} : { provideSdk }) });
    const engineCpuBefore = ownCpuMs();
    const upStarted = performance.now();
    const created = (await stack.up()).filter((step) => step.op === "create").length;
    const upMs = performance.now() - upStarted;
    if (created < expected) throw new Error(`scenario 13: up created ${created} resources, expected at least ${expected}`);
    const checkpointBytesPerResource = (await stat(stack.checkpointFile)).size / expected;
    const allocation = await allocationWeight(stack.checkpointFile);
    const destroyStarted = performance.now();
    await stack.destroy();
    const destroyMs = performance.now() - destroyStarted;
    const engineCpuMs = ownCpuMs() - engineCpuBefore;
    const host = (await providerHostPids()).find((pid) => !before.has(pid));
    const hostCpuMs = host === undefined ? Number.NaN : await cpuMs(host);
    const hostPeakRssMiB = host === undefined ? Number.NaN : await peakRssMiB(host);
    return { upMs, destroyMs, hostCpuMs, hostPeakRssMiB, engineCpuMs, checkpointBytesPerResource, allocation };
  } finally {
    await stack?.close();
    await rm(backendDir, { recursive: true, force: true });
  }
}

type Side = "noop" | "padded" | "ours";
const SIDE_NAMES: Record<Side, string> = { noop: "no-op provider", padded: "no-op provider with a state as large as ours", ours: "pulumi-ipam" };

/** Allocations in the calibration runs: enough for a mean, few enough to cost seconds. */
const CALIBRATION_ALLOCATIONS = 10;
/** How far the padded side's allocation may weigh from ours' before the split is not worth reporting. */
const WEIGHT_TOLERANCE = 0.03;

/**
 * The padding that makes the padded no-op's allocation weigh what ours does in the checkpoint,
 * measured, not guessed: one small up and destroy of ours and of the padded no-op without padding,
 * then the difference in stored bytes per allocation spread over the `__provider` copies each
 * allocation stores (one padding character is one byte in each). Negative when ours weighs less
 * than the no-op shaped like it: there is no weight of ours to split off then.
 */
async function calibratedPadding(config: Record<string, string>): Promise<{ padding: number; ours: number; unpadded: number }> {
  const resources = CALIBRATION_ALLOCATIONS + SUBNETS;
  const oursDir = await projectDir("bench-up-ipam", ipamProgram(CALIBRATION_ALLOCATIONS, `bench-up-calibration-${Date.now()}`));
  const paddedDir = await projectDir("bench-up-padded", paddedNoopProgram(CALIBRATION_ALLOCATIONS, 0), { "shape.cjs": PADDED_SHAPE });
  try {
    const ours = (await upAndDestroy(oursDir, config, resources, PACKAGES.ours)).allocation;
    const unpadded = (await upAndDestroy(paddedDir, {}, resources, PACKAGES.padded)).allocation;
    return { padding: Math.round((ours.bytes - unpadded.bytes) / unpadded.providerCopies), ours: ours.bytes, unpadded: unpadded.bytes };
  } finally {
    await Promise.all([oursDir, paddedDir].map((dir) => rm(dir, { recursive: true, force: true })));
  }
}

/**
 * 13. A whole `pulumi up` and `pulumi destroy` through the engine model (harness/engine: the real
 * Node.js runtime running the program, the SDK's dynamic-provider host over gRPC): 1,000
 * IpAllocations over 10 subnets (20 with --quick, one run each way), against the same resource graph through a
 * dynamic provider that does nothing. Wall time and the host's CPU of ours ÷ the no-op's, runs
 * alternated no-op, padded, ours, ours, padded, no-op and summed per side so a drift in load hits
 * all alike. Where our allocation's state weighs more than the no-op shaped like it, the padded
 * no-op (a state as large as ours, measured first, nothing else) splits ours ÷ no-op into what our
 * state's weight costs the engine (padded ÷ no-op) and what our provider's work costs (ours ÷
 * padded); where it weighs less, there is nothing to split and that side is not run.
 */
export async function wholeUp(context: BenchContext): Promise<ScenarioResult> {
  const allocations = context.quick ? 20 : 1_000;
  const resources = allocations + SUBNETS;
  const config = { "ipam:databaseUrl": context.url };
  const calibration = await calibratedPadding(config);
  const split = calibration.padding >= 0;
  context.log(
    `scenario 13: one allocation's state, ours ${Math.round(calibration.ours)} B, padded no-op unpadded ${Math.round(calibration.unpadded)} B: ` +
      (split ? `padding ${calibration.padding} characters` : "ours weighs less, no padded side"),
  );
  const dirs: Partial<Record<Side, string>> = {
    ours: await projectDir("bench-up-ipam", ipamProgram(allocations, `bench-up-${Date.now()}`)),
    noop: await projectDir("bench-up-noop", noopProgram(allocations)),
    ...(split ? { padded: await projectDir("bench-up-padded", paddedNoopProgram(allocations, calibration.padding), { "shape.cjs": PADDED_SHAPE }) } : {}),
  };
  try {
    const everyOrder: readonly Side[] = context.quick ? ["noop", "padded", "ours"] : ["noop", "padded", "ours", "ours", "padded", "noop"];
    const order = everyOrder.filter((side) => dirs[side] !== undefined);
    const runs: Record<Side, Run[]> = { noop: [], padded: [], ours: [] };
    for (const [index, side] of order.entries()) {
      context.log(`scenario 13: up and destroy of ${resources.toLocaleString("en-US")} resources, ${SIDE_NAMES[side]} (${index + 1}/${order.length}), load ${(await readFile("/proc/loadavg", "utf8").catch(() => "?")).split(" ").slice(0, 3).join(" ")}`);
      runs[side].push(await upAndDestroy(dirs[side]!, side === "ours" ? config : {}, resources, PACKAGES[side]));
    }
    const sides = (["ours", "noop", "padded"] as const).filter((side) => runs[side].length > 0);
    const sum = (side: Side, pick: (run: Run) => number) => runs[side].reduce((total, run) => total + pick(run), 0);
    const between = (a: Side, b: Side, pick: (run: Run) => number) => ratio(sum(a, pick), sum(b, pick));
    const up = (r: Run) => r.upMs;
    const destroy = (r: Run) => r.destroyMs;
    const hostCpu = (r: Run) => r.hostCpuMs;
    const mean = (side: Side, pick: (run: Run) => number) => sum(side, pick) / runs[side].length;
    const seconds = (side: Side, pick: (run: Run) => number) => round(mean(side, pick) / 1000, 2);
    const checkpointBytes = (side: Side) => Math.round(mean(side, (r) => r.checkpointBytesPerResource));
    const weight = (side: Side) => Math.round(mean(side, (r) => r.allocation.bytes));
    const describe = (side: Side) =>
      `${SIDE_NAMES[side]}: up ${seconds(side, up)} s, destroy ${seconds(side, destroy)} s, host CPU ${seconds(side, hostCpu)} s, engine CPU ${seconds(side, (r) => r.engineCpuMs)} s, checkpoint ${checkpointBytes(side)} B per resource (one allocation ${weight(side)} B)`;
    const splitText = () =>
      split
        ? `Ours ÷ padded (our provider's own work): up ${between("ours", "padded", up)}, destroy ${between("ours", "padded", destroy)}; ` +
          `padded ÷ no-op (the engine writing a state as large as ours on every step): up ${between("padded", "noop", up)}, destroy ${between("padded", "noop", destroy)}`
        : `Our allocation's state weighs less than the no-op's shaped like it (${Math.round(calibration.unpadded)} B): what remains of ours ÷ no-op is our provider's own work`;
    const why = () => `${sides.map(describe).join("; ")} (means of ${runs.ours.length}). ${splitText()}`;
    const figures: Record<string, number> = { allocations };
    for (const side of sides) {
      figures[`${side}UpSeconds`] = seconds(side, up);
      figures[`${side}DestroySeconds`] = seconds(side, destroy);
      figures[`${side}HostCpuSeconds`] = seconds(side, hostCpu);
      figures[`${side}EngineCpuSeconds`] = seconds(side, (r) => r.engineCpuMs);
      figures[`${side}HostPeakRssMiB`] = round(Math.max(...runs[side].map((r) => r.hostPeakRssMiB)), 1);
      figures[`${side}CheckpointBytesPerResource`] = checkpointBytes(side);
      figures[`${side}AllocationStateBytes`] = weight(side);
    }
    if (split) {
      figures.paddedPaddingCharacters = calibration.padding;
      // The split below means something only if the padded side carries our weight: stop, loudly, if not.
      const off = Math.abs(weight("padded") / weight("ours") - 1);
      if (!(off <= WEIGHT_TOLERANCE)) {
        throw new Error(`scenario 13: the padded no-op's allocation weighs ${weight("padded")} B in the checkpoint, ours ${weight("ours")} B (${round(off * 100, 1)} % apart, allowed ${WEIGHT_TOLERANCE * 100} %): its split is not reported. ${why()}`);
      }
      figures.upOursOverPadded = between("ours", "padded", up);
      figures.destroyOursOverPadded = between("ours", "padded", destroy);
      figures.upPaddedOverNoop = between("padded", "noop", up);
      figures.destroyPaddedOverNoop = between("padded", "noop", destroy);
    }
    return {
      id: "13-whole-up",
      title: `A whole up and destroy of ${allocations.toLocaleString("en-US")} IpAllocations over ${SUBNETS} subnets through the engine model, ÷ the same graph through a no-op dynamic provider`,
      figures,
      // Issue 25 sets the targets on wall time and asks for the host CPU ratio to be reported: a
      // no-op's host does none of the database client's work; scenario 7 holds ours over that floor.
      checks: [
        check("up wall time, ours ÷ no-op", between("ours", "noop", up), "atMost", 1.3, why),
        check("destroy wall time, ours ÷ no-op", between("ours", "noop", destroy), "atMost", 1.3, why),
      ],
      reported: [{ name: "host CPU (up + destroy), ours ÷ no-op", value: between("ours", "noop", hostCpu) }],
    };
  } finally {
    await Promise.all(Object.values(dirs).map((dir) => rm(dir, { recursive: true, force: true })));
  }
}

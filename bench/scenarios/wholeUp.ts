import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { openStack, repoRoot, type Stack } from "../../harness/engine/index.js";
import type { BenchContext } from "../benchContext.js";
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

/** A Pulumi project directory holding `source` as index.ts (TypeScript, as the examples). */
async function projectDir(name: string, source: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `ipam-bench-${name}-`));
  await writeFile(join(dir, "Pulumi.yaml"), `name: ${name}\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n`);
  await writeFile(join(dir, "package.json"), JSON.stringify({ name, private: true, type: "module", main: "index.ts" }));
  await cp(join(repoRoot, "examples", "quickstart", "tsconfig.json"), join(dir, "tsconfig.json"));
  await writeFile(join(dir, "index.ts"), source);
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
}

/** `pulumi up` then `pulumi destroy` of one program through the engine model, timed, with its host's CPU and peak RSS. */
async function upAndDestroy(programDir: string, config: Record<string, string>, expected: number): Promise<Run> {
  const backendDir = await mkdtemp(join(tmpdir(), "ipam-bench-backend-"));
  let stack: Stack | undefined;
  try {
    const before = new Set(await providerHostPids());
    stack = await openStack({ programDir, stack: "bench", backendDir, config, programTimeoutMs: 3_600_000 });
    const upStarted = performance.now();
    const created = (await stack.up()).filter((step) => step.op === "create").length;
    const upMs = performance.now() - upStarted;
    if (created < expected) throw new Error(`scenario 13: up created ${created} resources, expected at least ${expected}`);
    const destroyStarted = performance.now();
    await stack.destroy();
    const destroyMs = performance.now() - destroyStarted;
    const host = (await providerHostPids()).find((pid) => !before.has(pid));
    const hostCpuMs = host === undefined ? Number.NaN : await cpuMs(host);
    const hostPeakRssMiB = host === undefined ? Number.NaN : await peakRssMiB(host);
    return { upMs, destroyMs, hostCpuMs, hostPeakRssMiB };
  } finally {
    await stack?.close();
    await rm(backendDir, { recursive: true, force: true });
  }
}

/**
 * 14. A whole `pulumi up` and `pulumi destroy` through the engine model (harness/engine: the real
 * Node.js runtime running the program, the SDK's dynamic-provider host over gRPC): 1,000
 * IpAllocations over 10 subnets (20 with --quick, one run each way), against the same resource graph through a
 * dynamic provider that does nothing. Wall time and the host's CPU of ours ÷ the no-op's, runs
 * alternated no-op, ours, ours, no-op and summed per side so a drift in load hits both alike.
 */
export async function wholeUp(context: BenchContext): Promise<ScenarioResult> {
  const allocations = context.quick ? 20 : 1_000;
  const resources = allocations + SUBNETS;
  const ours = await projectDir("bench-up-ipam", ipamProgram(allocations, `bench-up-${Date.now()}`));
  const noop = await projectDir("bench-up-noop", noopProgram(allocations));
  try {
    const config = { "ipam:databaseUrl": context.url };
    const order = context.quick ? (["noop", "ours"] as const) : (["noop", "ours", "ours", "noop"] as const);
    const runs: Record<"noop" | "ours", Run[]> = { noop: [], ours: [] };
    for (const [index, side] of order.entries()) {
      context.log(`scenario 13: up and destroy of ${resources.toLocaleString("en-US")} resources, ${side === "ours" ? "pulumi-ipam" : "no-op provider"} (${index + 1}/${order.length})`);
      runs[side].push(await upAndDestroy(side === "ours" ? ours : noop, side === "ours" ? config : {}, resources));
    }
    const sum = (side: "noop" | "ours", pick: (run: Run) => number) => runs[side].reduce((total, run) => total + pick(run), 0);
    const upRatio = ratio(sum("ours", (r) => r.upMs), sum("noop", (r) => r.upMs));
    const destroyRatio = ratio(sum("ours", (r) => r.destroyMs), sum("noop", (r) => r.destroyMs));
    const cpuRatio = ratio(sum("ours", (r) => r.hostCpuMs), sum("noop", (r) => r.hostCpuMs));
    const seconds = (side: "noop" | "ours", pick: (run: Run) => number) => round(sum(side, pick) / runs[side].length / 1000, 2);
    const why = () => `ours: up ${seconds("ours", (r) => r.upMs)} s, destroy ${seconds("ours", (r) => r.destroyMs)} s, host CPU ${seconds("ours", (r) => r.hostCpuMs)} s; no-op: up ${seconds("noop", (r) => r.upMs)} s, destroy ${seconds("noop", (r) => r.destroyMs)} s, host CPU ${seconds("noop", (r) => r.hostCpuMs)} s (means of ${runs.ours.length})`;
    return {
      id: "13-whole-up",
      title: `A whole up and destroy of ${allocations.toLocaleString("en-US")} IpAllocations over ${SUBNETS} subnets through the engine model, ÷ the same graph through a no-op dynamic provider`,
      figures: {
        allocations,
        oursUpSeconds: seconds("ours", (r) => r.upMs),
        oursDestroySeconds: seconds("ours", (r) => r.destroyMs),
        oursHostCpuSeconds: seconds("ours", (r) => r.hostCpuMs),
        oursHostPeakRssMiB: round(Math.max(...runs.ours.map((r) => r.hostPeakRssMiB)), 1),
        noopUpSeconds: seconds("noop", (r) => r.upMs),
        noopDestroySeconds: seconds("noop", (r) => r.destroyMs),
        noopHostCpuSeconds: seconds("noop", (r) => r.hostCpuMs),
        noopHostPeakRssMiB: round(Math.max(...runs.noop.map((r) => r.hostPeakRssMiB)), 1),
      },
      checks: [
        check("up wall time, ours ÷ no-op", upRatio, "atMost", 1.3, why),
        check("destroy wall time, ours ÷ no-op", destroyRatio, "atMost", 1.3, why),
        check("host CPU (up + destroy), ours ÷ no-op", cpuRatio, "atMost", 1.3, why),
      ],
    };
  } finally {
    await rm(ours, { recursive: true, force: true });
    await rm(noop, { recursive: true, force: true });
  }
}

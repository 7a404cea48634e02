import { OWNER, type BenchContext } from "../benchContext.js";
import { interleavedLatency, ratio } from "../measure.js";
import { check, type ScenarioResult } from "../scenarioResult.js";

const HELD = 10_000;

/**
 * 13. Hold-down (issue 23): next-free and random picks in a subnet holding 10,000 released
 * addresses, against a twin subnet whose same 10,000 addresses are still allocated (the same free
 * space, no holds). Held addresses live outside the free-range index the picks read, so the cost
 * should not move.
 */
export async function holdDownAtScale(context: BenchContext): Promise<ScenarioResult> {
  const held = await context.ipam.createSubnet({ cidr: "10.213.0.0/16", releaseHoldSeconds: 3_600, description: "bench: 10k held" });
  const control = await context.ipam.createSubnet({ cidr: "10.214.0.0/16", description: "bench: no holds" });
  context.log(`scenario 16: ${HELD} addresses allocated in both subnets, then released into hold in one`);
  const bulk = await context.ipam.allocate({ subnetId: held.id, owner: OWNER, count: HELD });
  await context.ipam.allocate({ subnetId: control.id, owner: OWNER, count: HELD });
  await context.ipam.release(bulk.allocation.id);
  const pairs = [
    { key: "nextFree/held", subnetId: held.id, strategy: "sequential" as const },
    { key: "nextFree/control", subnetId: control.id, strategy: "sequential" as const },
    { key: "random/held", subnetId: held.id, strategy: "random" as const },
    { key: "random/control", subnetId: control.id, strategy: "random" as const },
  ];
  context.log(`scenario 16: ${context.samples} samples per subnet and strategy, interleaved`);
  const measured = await interleavedLatency(context.samples, pairs.map(({ subnetId, strategy }) => () => context.ipam.allocate({ subnetId, owner: OWNER, strategy })));
  const p50: Record<string, number> = {};
  const figures: Record<string, number> = { held: HELD };
  for (const [index, { key }] of pairs.entries()) {
    p50[key] = measured[index]!.p50Ms;
    figures[`p50Ms/${key}`] = measured[index]!.p50Ms;
    figures[`p99Ms/${key}`] = measured[index]!.p99Ms;
  }
  return {
    id: "16-hold-down",
    title: `Next-free and random picks with ${HELD.toLocaleString("en")} addresses held (hold-down) vs none`,
    figures,
    checks: (["nextFree", "random"] as const).map((strategy) =>
      check(`${strategy} p50 with ${HELD} held ÷ without`, ratio(p50[`${strategy}/held`]!, p50[`${strategy}/control`]!), "atMost", 1.5, () =>
        `${strategy} p50 ${p50[`${strategy}/held`]} ms with holds, ${p50[`${strategy}/control`]} ms without`),
    ),
  };
}

import { OWNER, type BenchContext } from "../benchContext.js";
import { fillScattered } from "../fill.js";
import { interleavedLatency, ratio } from "../measure.js";
import { check, type ScenarioResult } from "../scenarioResult.js";

const FILL = 0.9;

/**
 * 5. Random vs sequential picks at 90% fill, scattered so the free space is many short runs. Two
 * subnet sizes 16× apart show whether a random pick's cost grows with the subnet (O(log n) should
 * barely move).
 */
export async function randomAtFill(context: BenchContext): Promise<ScenarioResult> {
  const sizes = context.quick ? (["10.200.0.0/22", "10.200.64.0/18"] as const) : (["10.200.0.0/18", "10.204.0.0/14"] as const);
  const figures: Record<string, number> = {};
  const p50: Record<string, number> = {};
  const subnets: string[] = [];
  for (const cidr of sizes) {
    const prefix = cidr.split("/")[1]!;
    const subnet = await context.ipam.createSubnet({ cidr, description: "bench: random at 90% fill" });
    context.log(`scenario 5: filling /${prefix} to ${FILL * 100}% (scattered)`);
    figures[`takenIn/${prefix}`] = await fillScattered(context, Number(subnet.id), FILL);
    subnets.push(subnet.id);
  }
  // Every (size, strategy) pair in turn each round, so background load hits all four alike.
  const pairs = subnets.flatMap((subnetId, index) =>
    (["sequential", "random"] as const).map((strategy) => ({ key: `${strategy}/${sizes[index]!.split("/")[1]!}`, subnetId, strategy })),
  );
  context.log(`scenario 5: ${context.samples} samples per size and strategy, interleaved`);
  const measured = await interleavedLatency(context.samples, pairs.map(({ subnetId, strategy }) => () => context.ipam.allocate({ subnetId, owner: OWNER, strategy })));
  for (const [index, { key }] of pairs.entries()) {
    const [strategy, prefix] = key.split("/");
    figures[`${strategy}P50Ms/${prefix}`] = measured[index]!.p50Ms;
    figures[`${strategy}P99Ms/${prefix}`] = measured[index]!.p99Ms;
    p50[key] = measured[index]!.p50Ms;
  }
  const [small, large] = sizes.map((cidr) => cidr.split("/")[1]!);
  // No target in the issue for random against sequential; reported as a figure. A single random
  // pick runs in a locked transaction of several round trips, a single next-free one in one statement.
  figures[`randomOverSequentialP50/${large}`] = ratio(p50[`random/${large}`]!, p50[`sequential/${large}`]!);
  return {
    id: "5-random-at-90pct",
    title: `Random vs sequential at ${FILL * 100}% scattered fill (/${small} and /${large})`,
    figures,
    checks: [
      check(`random p50 /${large} ÷ /${small} (16× the addresses)`, ratio(p50[`random/${large}`]!, p50[`random/${small}`]!), "atMost", 1.5, () =>
        `random p50 grew from ${p50[`random/${small}`]} ms to ${p50[`random/${large}`]} ms`),
    ],
  };
}

import { OWNER, type BenchContext } from "../benchContext.js";
import { fillSequential } from "../fill.js";
import { interleavedLatency, ratio, type Latency } from "../measure.js";
import { check, type Check, type ScenarioResult } from "../scenarioResult.js";

export const FULL_LEVELS = [0, 10_000, 100_000, 1_000_000] as const;
export const QUICK_LEVELS = [0, 100, 1_000, 5_000] as const;

const FAMILIES = [
  ["ipv4", (index: number) => `${11 + index}.0.0.0/8`],
  ["ipv6", (index: number) => `fd00:be:c4:${index}::/64`],
] as const;

/**
 * 3. Latency of one next-free allocation as a subnet fills, in IPv4 /8s and IPv6 /64s. One subnet
 * per fill level, filled with bulk SQL; the samples then go round-robin over the levels, so a
 * drift in the machine's background load cannot masquerade as a fill effect.
 */
export async function latencyVsFill(context: BenchContext): Promise<{ result: ScenarioResult; emptyV4: Latency }> {
  const levels = context.quick ? QUICK_LEVELS : FULL_LEVELS;
  const figures: Record<string, number> = {};
  const checks: Check[] = [];
  let emptyV4: Latency | undefined;
  for (const [family, cidrOf] of FAMILIES) {
    const subnets: string[] = [];
    for (const [index, level] of levels.entries()) {
      const subnet = await context.ipam.createSubnet({ cidr: cidrOf(index), description: `bench: latency at ${level} taken (${family})` });
      context.log(`scenario 3: ${family}, filling ${subnet.cidr} to ${level}`);
      await fillSequential(context, Number(subnet.id), level);
      subnets.push(subnet.id);
    }
    // Warm up (each pooled connection plans its statements once), so "empty" is not cold.
    for (const subnetId of subnets) for (let n = 0; n < 5; n += 1) await context.ipam.allocate({ subnetId, owner: OWNER });
    context.log(`scenario 3: ${family}, ${context.samples} samples per level, interleaved`);
    const byLevel = await interleavedLatency(context.samples, subnets.map((subnetId) => () => context.ipam.allocate({ subnetId, owner: OWNER })));
    for (const [index, level] of levels.entries()) {
      figures[`${family}P50MsAt${level}`] = byLevel[index]!.p50Ms;
      figures[`${family}P99MsAt${level}`] = byLevel[index]!.p99Ms;
    }
    if (family === "ipv4") emptyV4 = byLevel[0];
    const top = levels.at(-1)!;
    checks.push(
      check(`${family} p50 at ${top.toLocaleString("en-US")} ÷ p50 at empty`, ratio(byLevel.at(-1)!.p50Ms, byLevel[0]!.p50Ms), "atMost", 1.5, () =>
        `p50 went from ${byLevel[0]!.p50Ms} ms to ${byLevel.at(-1)!.p50Ms} ms (p99 ${byLevel[0]!.p99Ms} → ${byLevel.at(-1)!.p99Ms} ms)`,
      ),
    );
  }
  return {
    emptyV4: emptyV4!,
    result: {
      id: "3-latency-vs-fill",
      title: `Latency of one allocation vs fill (${levels.join(", ")} taken; ${context.samples} interleaved samples each)`,
      figures,
      checks,
    },
  };
}

import { OWNER, type BenchContext } from "../benchContext.js";
import { fillSequential } from "../fill.js";
import { latency, ratio, type Latency } from "../measure.js";
import { check, type Check, type ScenarioResult } from "../scenarioResult.js";

export const FULL_LEVELS = [0, 10_000, 100_000, 1_000_000] as const;
export const QUICK_LEVELS = [0, 100, 1_000, 5_000] as const;

/**
 * 3. Latency of one next-free allocation as the subnet fills, in an IPv4 /8 and an IPv6 /64. The
 * fill is bulk SQL between measurements; the measured allocations themselves go through Ipam.
 */
export async function latencyVsFill(context: BenchContext): Promise<{ result: ScenarioResult; emptyV4: Latency }> {
  const levels = context.quick ? QUICK_LEVELS : FULL_LEVELS;
  const figures: Record<string, number> = {};
  const checks: Check[] = [];
  let emptyV4: Latency | undefined;
  for (const [family, cidr] of [["ipv4", "11.0.0.0/8"], ["ipv6", "fd00:be:c4::/64"]] as const) {
    const subnet = await context.ipam.createSubnet({ cidr, description: `bench: latency vs fill (${family})` });
    // Warm up first (each pooled connection plans its statements once), so "empty" is not cold.
    const warmUp = Math.min(20, context.samples);
    for (let index = 0; index < warmUp; index += 1) await context.ipam.allocate({ subnetId: subnet.id, owner: OWNER });
    let filled = warmUp;
    const byLevel: Latency[] = [];
    for (const level of levels) {
      context.log(`scenario 3: ${family}, filling to ${level}`);
      // The samples taken at the previous level count towards this one.
      const taken = Math.max(0, level - filled);
      if (taken > 0) await fillSequential(context, Number(subnet.id), taken);
      filled += taken;
      const measured = await latency(context.samples, () => context.ipam.allocate({ subnetId: subnet.id, owner: OWNER }));
      filled += context.samples;
      byLevel.push(measured);
      figures[`${family}P50MsAt${level}`] = measured.p50Ms;
      figures[`${family}P99MsAt${level}`] = measured.p99Ms;
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
      title: `Latency of one allocation vs fill (${levels.join(", ")} taken; ${context.samples} samples each)`,
      figures,
      checks,
    },
  };
}

import { OWNER, type BenchContext } from "../benchContext.js";
import { percentile, ratio, round, timed, type Latency } from "../measure.js";
import { check, type ScenarioResult } from "../scenarioResult.js";

/** 4. `count` addresses in one call: wall time, and per-address cost against single allocations. */
export async function bulkAllocation(context: BenchContext, single: Latency): Promise<ScenarioResult> {
  const count = context.quick ? 1_000 : 10_000;
  const subnet = await context.ipam.createSubnet({ cidr: "10.128.0.0/14", description: "bench: bulk" });
  const times: number[] = [];
  for (let run = 0; run < 3; run += 1) {
    context.log(`scenario 4: count ${count}, run ${run + 1}/3`);
    const { result, ms } = await timed(() => context.ipam.allocate({ subnetId: subnet.id, owner: OWNER, count }));
    if (result.allocation.addresses.length !== count) throw new Error(`bulk: got ${result.allocation.addresses.length} addresses for count ${count}`);
    times.push(ms);
  }
  const medianMs = percentile(times, 0.5);
  const perAddressMs = medianMs / count;
  return {
    id: "4-bulk",
    title: `Bulk: count ${count.toLocaleString("en-US")} in one call (median of 3)`,
    figures: { count, medianMs: round(medianMs, 1), perAddressUs: round(perAddressMs * 1000, 2), singleP50Ms: single.p50Ms },
    checks: [
      check("seconds for one call", round(medianMs / 1000, 3), "atMost", 1, () => `one call of ${count} took ${round(medianMs, 1)} ms (${round(perAddressMs * 1000, 2)} µs per address)`),
      // Informational: how much cheaper an address is in bulk than on its own (target: cheaper at all).
      check("per-address cost ÷ single allocation p50", ratio(perAddressMs, single.p50Ms), "atMost", 1, () => `${round(perAddressMs, 3)} ms per address in bulk vs ${single.p50Ms} ms for one`),
    ],
  };
}

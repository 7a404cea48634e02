import type { Baselines } from "../baselines.js";
import { OWNER, type BenchContext } from "../benchContext.js";
import { ratio, throughput, type Throughput } from "../measure.js";
import { check, type ScenarioResult } from "../scenarioResult.js";

/** 1. Every client takes next-free addresses from one subnet: the lock serializes them. */
export async function oneSubnetContended(context: BenchContext, baselines: Baselines): Promise<{ result: ScenarioResult; rate: Throughput }> {
  const { ipam, clients, durationMs } = context;
  const subnet = await ipam.createSubnet({ cidr: "10.16.0.0/12", description: "bench: one subnet, contended" });
  context.log(`scenario 1: one subnet, ${clients} clients, next-free`);
  const rate = await throughput(clients, durationMs, () => ipam.allocate({ subnetId: subnet.id, owner: OWNER }));
  const ceiling = baselines.lockedInsert16.perSecond;
  const value = ratio(rate.perSecond, ceiling);
  return {
    rate,
    result: {
      id: "1-one-subnet",
      title: `One subnet, ${clients} clients, next-free allocations/s vs one-key locked insert`,
      figures: { allocationsPerSecond: rate.perSecond, lockedInsertCeilingPerSecond: ceiling, errors: rate.errors },
      checks: [
        check("allocations/s ÷ locked-insert ceiling", value, "atLeast", 0.8, () => {
          // Under one key the rate is 1 / (time the lock is held). The ceiling holds it for one
          // statement; the allocator holds it from the lock statement until COMMIT.
          const held = 1000 / rate.perSecond;
          const ceilingHeld = 1000 / ceiling;
          return `lock held ${held.toFixed(2)} ms per allocation vs ${ceilingHeld.toFixed(2)} ms for the one-statement ceiling (${(held / ceilingHeld).toFixed(1)}×): the allocation keeps the lock across several client round trips`;
        }),
      ],
    },
  };
}

/** 2. Each client has a subnet of its own: the locks never meet, so this is the store's raw cost. */
export async function manySubnets(context: BenchContext, baselines: Baselines): Promise<ScenarioResult> {
  const { ipam, clients, durationMs } = context;
  const subnets: { id: string }[] = [];
  for (let index = 0; index < clients; index += 1) {
    subnets.push(await ipam.createSubnet({ cidr: `10.${64 + index}.0.0/16`, description: "bench: one subnet per client" }));
  }
  context.log(`scenario 2: ${clients} subnets, ${clients} clients`);
  const rate = await throughput(clients, durationMs, (client) => ipam.allocate({ subnetId: subnets[client]!.id, owner: OWNER }));
  const plain = baselines.plainInsert16.perSecond;
  const value = ratio(rate.perSecond, plain);
  return {
    id: "2-many-subnets",
    title: `${clients} subnets, ${clients} clients, allocations/s vs plain ${clients}-client insert`,
    figures: { allocationsPerSecond: rate.perSecond, plainInsertPerSecond: plain, errors: rate.errors },
    checks: [
      check("allocations/s ÷ plain insert", value, "atLeast", 0.6, () => {
        const perAllocation = (1000 * clients) / rate.perSecond;
        const perInsert = (1000 * clients) / plain;
        return `one allocation takes ${perAllocation.toFixed(2)} ms of a client's time vs ${perInsert.toFixed(2)} ms for a plain insert (${(perAllocation / perInsert).toFixed(1)}×): it is a transaction of several round trips, not one statement`;
      }),
    ],
  };
}

import { InvalidArgumentError } from "commander";
import type { SubnetUsageReport } from "../store/Ipam.js";
import { percent } from "./usageBar.js";

/** Raised when a subnet's pool use is above `--fail-above`: `run` turns it into EXIT.capacity. */
export class CapacityExceededError extends Error {
  constructor(readonly subnets: readonly CapacityBreach[], readonly threshold: string) {
    super(`${subnets.length} subnet(s) above ${threshold}% pool use: ${subnets.map((s) => `${s.subnetId} ${s.cidr} (namespace ${s.namespace}) ${s.used}`).join(", ")}`);
    this.name = "CapacityExceededError";
  }
}

export interface CapacityBreach {
  readonly subnetId: string;
  readonly namespace: string;
  readonly cidr: string;
  /** Pool use as printed, e.g. "91.40%". */
  readonly used: string;
}

/** `--fail-above PERCENT`: 0 to 100 with at most two decimals, kept as hundredths of a percent for exact comparison. */
export function percentThreshold(value: string): number {
  if (!/^\d{1,3}(\.\d{1,2})?$/.test(value) || Number(value) > 100) throw new InvalidArgumentError("must be a percentage from 0 to 100 (e.g. 90 or 87.5)");
  return Math.round(Number(value) * 100);
}

/**
 * Subnets whose pool use (pool addresses not free, over the pool) is strictly above the
 * threshold, compared exactly in integers (IPv6 pools exceed 2^53). Children-only subnets hand out
 * no addresses and empty pools have no use, so neither can be above.
 */
export function subnetsAbove(reports: readonly SubnetUsageReport[], hundredths: number): CapacityBreach[] {
  return reports.flatMap(({ subnet, usage }) => {
    const pool = BigInt(usage.poolSize);
    const inUse = pool - BigInt(usage.free);
    if (subnet.childrenOnly || pool === 0n || inUse * 10_000n <= BigInt(hundredths) * pool) return [];
    return [{ subnetId: subnet.id, namespace: subnet.namespace, cidr: subnet.cidr, used: percent(inUse, pool) }];
  });
}

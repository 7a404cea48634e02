import type { Utilisation } from "../../core/addressForecast.js";

/** One subnet's utilisation before and after the plan (allocated / pool size), as the report shows it. */
export interface SubnetChange {
  readonly cidr: string;
  readonly poolSize: string;
  readonly before: string;
  readonly after: string;
  /** e.g. "78.1 %", or "new" for a subnet the plan creates. */
  readonly beforePercent: string;
  /** e.g. "81.3 %", or "deleted". */
  readonly afterPercent: string;
}

export function subnetChange(u: Utilisation, deleted: boolean, created: boolean): SubnetChange {
  return {
    cidr: u.cidr,
    poolSize: u.poolSize,
    before: created ? "0" : u.before,
    after: deleted ? "0" : u.after,
    beforePercent: created ? "new" : percent(BigInt(u.before), BigInt(u.poolSizeBefore)),
    afterPercent: deleted ? "deleted" : percent(BigInt(u.after), BigInt(u.poolSize)),
  };
}

/** One decimal, rounded down (bigint: IPv6 pools exceed 2^53). */
function percent(part: bigint, whole: bigint): string {
  if (whole === 0n) return "–";
  const tenths = (part * 1000n) / whole;
  return `${tenths / 10n}.${tenths % 10n} %`;
}

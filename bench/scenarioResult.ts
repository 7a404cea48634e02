/** One pass/fail comparison: `value` (a ratio or a time) against its target. */
export interface Check {
  readonly name: string;
  readonly value: number;
  readonly target: number;
  /** "atLeast": value >= target passes; "atMost": value <= target passes. */
  readonly direction: "atLeast" | "atMost";
  readonly met: boolean;
  /** Why a missed target was missed, from what this run measured. */
  readonly reason?: string;
}

/** A headline figure for a scenario the issue sets no target for: a table row with no pass/fail. */
export interface Reported {
  readonly name: string;
  readonly value: number;
}

export interface ScenarioResult {
  readonly id: string;
  readonly title: string;
  /** Raw figures (rates, latencies, counts) the checks are computed from. */
  readonly figures: Record<string, number>;
  readonly checks: readonly Check[];
  readonly reported?: readonly Reported[];
  /** Set when the scenario could not be measured in this run, with the reason. */
  readonly notMeasured?: string;
}

export function check(name: string, value: number, direction: Check["direction"], target: number, reason?: () => string): Check {
  const met = Number.isFinite(value) && (direction === "atLeast" ? value >= target : value <= target);
  return { name, value, target, direction, met, ...(met || reason === undefined ? {} : { reason: reason() }) };
}

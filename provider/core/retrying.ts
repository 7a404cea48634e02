import { randomInt } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { IpamError } from "./errors.js";

export interface RetryPolicy {
  /** Give up once this much time has passed since the first attempt (0: one attempt only). */
  readonly timeoutMs: number;
  /**
   * Whether an OUTCOME_UNKNOWN (a COMMIT whose answer was lost) may be retried: only when the
   * request carries an idempotency key or a claim, so that a retry returns what a lost commit made.
   */
  readonly idempotent: boolean;
  /** First backoff ceiling and the largest one (defaults 50 ms and 2 s). */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
}

export interface RetryOutcome<T> {
  readonly value: T;
  readonly attempts: number;
}

/** The failure that ended the retries, and how hard we tried. */
export class RetriesExhausted extends Error {
  constructor(
    readonly last: unknown,
    readonly attempts: number,
    readonly elapsedMs: number,
  ) {
    super("retries exhausted");
  }
}

/** Retried: transient failures known to have changed nothing, and lost COMMITs of idempotent requests. */
export function isRetryable(error: unknown, idempotent: boolean): boolean {
  if (!(error instanceof IpamError) || !error.retryable) return false;
  return error.code !== "OUTCOME_UNKNOWN" || idempotent;
}

/**
 * Run `work` until it succeeds, fails for good, or the time is up, sleeping between attempts
 * with "full jitter" exponential backoff (a uniform draw below a doubling ceiling), so that many
 * hosts failing at once (a server restart, a full connection table) do not all return at once.
 * The last sleep never overshoots the deadline.
 * @throws RetriesExhausted wrapping the last failure, after at least one attempt
 */
export async function withRetries<T>(policy: RetryPolicy, work: (attempt: number) => Promise<T>): Promise<RetryOutcome<T>> {
  const started = Date.now();
  const base = policy.baseDelayMs ?? 50;
  const max = policy.maxDelayMs ?? 2_000;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return { value: await work(attempt), attempts: attempt };
    } catch (error) {
      const elapsed = Date.now() - started;
      const left = policy.timeoutMs - elapsed;
      if (!isRetryable(error, policy.idempotent) || left <= 0) throw new RetriesExhausted(error, attempt, elapsed);
      const ceiling = Math.min(max, base * 2 ** Math.min(attempt - 1, 20));
      await sleep(Math.min(left, randomInt(1, ceiling + 1)));
    }
  }
}

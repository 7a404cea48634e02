import { randomBytes, randomInt } from "node:crypto";

/** crypto.randomInt requires max - min < 2^48, so its largest exclusive bound is 2^48 - 1. */
const RANDOM_INT_LIMIT = 2n ** 48n - 1n;

/**
 * Uniform integer in [0, bound) from the operating system's CSPRNG.
 * Bounds above 2^48 (IPv6 pools) use rejection sampling over random bytes, which stays uniform.
 */
export function randomBelow(bound: bigint): bigint {
  if (bound <= 0n) throw new RangeError("bound must be positive");
  if (bound <= RANDOM_INT_LIMIT) return BigInt(randomInt(Number(bound)));
  const bits = (bound - 1n).toString(2).length;
  const bytes = Math.ceil(bits / 8);
  const mask = (1n << BigInt(bits)) - 1n;
  for (;;) {
    const candidate = BigInt(`0x${randomBytes(bytes).toString("hex")}`) & mask;
    if (candidate < bound) return candidate;
  }
}

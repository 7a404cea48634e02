/**
 * ok, the operation failed (the core refused, the database failed), the command line was wrong,
 * `ipam usage --fail-above` found a subnet above the threshold (a CI gate tells it from a failure).
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, capacity: 3 } as const;

/** A combination of flags the parser cannot express (exit code 2, like a parse error). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * ok, the operation failed (the core refused, the database failed), the command line (or an input
 * file) was wrong, a check found what it guards against: `ipam usage --fail-above` found a subnet
 * above the threshold, or `preview-report` predicts that `pulumi up` would fail (a CI gate tells
 * either from a failure).
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, capacity: 3, predictedFailure: 3 } as const;

/** A command that ran and printed its result, ending with a code other than 0 (e.g. a predicted failure). */
export class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
    this.name = "ExitCode";
  }
}

/** A combination of flags the parser cannot express (exit code 2, like a parse error). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

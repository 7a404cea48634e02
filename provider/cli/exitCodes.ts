/** ok, the operation failed (the core refused, the database failed), the command line was wrong. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A combination of flags the parser cannot express (exit code 2, like a parse error). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

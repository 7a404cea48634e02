import { z } from "zod";
import { ConfigurationError } from "../core/errors.js";

/** How `Ipam.open` connects; checked by assertIpamOptions. */
export interface IpamOptions {
  readonly databaseUrl: string;
  /** PostgreSQL schema holding every IPAM object (default `ipam`). */
  readonly schema?: string;
  /** Apply pending migrations when opening (default true). */
  readonly migrate?: boolean;
  /** Connections this process may hold (default DEFAULT_MAX_CONNECTIONS); more requests queue for one. */
  readonly maxConnections?: number;
  /** How long a request waits in that queue before POOL_TIMEOUT (retryable; default 30 s). */
  readonly acquireTimeoutMs?: number;
  /** Bounds the wait for a subnet's lock, and every other lock wait (SET LOCAL lock_timeout). */
  readonly lockTimeoutMs?: number;
  /** Bounds every statement, reads included (SET LOCAL statement_timeout). */
  readonly statementTimeoutMs?: number;
  /** Test-only: skip advisory locks to demonstrate what they prevent. */
  readonly unsafeSkipLocking?: boolean;
  /**
   * Send each next-free batch's transaction (BEGIN, timeouts, statement, COMMIT) in one round trip
   * on pipelined connections of its own (default true); false sends it through the pool, one round
   * trip per statement (the bench's baseline for issue 25).
   */
  readonly pipelinedGroupCommit?: boolean;
}

const positiveInt = (max: number) => z.number().int().min(1).max(max);

// Never echo the values: databaseUrl holds a password.
const optionsSchema = z.object({
  databaseUrl: z.string().min(1).max(8192),
  schema: z.string().optional(),
  migrate: z.boolean().optional(),
  maxConnections: positiveInt(1_000).optional(),
  acquireTimeoutMs: positiveInt(3_600_000).optional(),
  lockTimeoutMs: positiveInt(3_600_000).optional(),
  statementTimeoutMs: positiveInt(3_600_000).optional(),
  unsafeSkipLocking: z.boolean().optional(),
  pipelinedGroupCommit: z.boolean().optional(),
});

/**
 * Refuse options that would make the pool misbehave; a missing databaseUrl in particular would
 * let the driver fall back to PG* environment variables and a local default server.
 * @throws ConfigurationError naming each bad option, never its value
 */
export function assertIpamOptions(options: unknown): void {
  const result = optionsSchema.safeParse(options);
  if (result.success) return;
  const names = [...new Set(result.error.issues.map((issue) => issue.path.join(".") || "options"))];
  const detail = names.map((name) => (name === "databaseUrl" ? "databaseUrl (a non-empty postgres:// URL is required)" : name));
  throw new ConfigurationError(`invalid IPAM options: ${detail.join(", ")}`);
}

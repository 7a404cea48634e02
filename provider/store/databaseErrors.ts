import {
  DatabaseError,
  DatabaseUnavailableError,
  IpamError,
  RetryableDatabaseError,
} from "../core/errors.js";

/** The SQLSTATE of a driver error, looking through slonik's wrappers. */
export function sqlStateOf(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current instanceof Object && depth < 5; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The constraint a driver error names, if any. */
export function constraintOf(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current instanceof Object && depth < 5; depth += 1) {
    const constraint = (current as { constraint?: unknown }).constraint;
    if (typeof constraint === "string") return constraint;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

const CONNECTION_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "EPIPE"]);

/** Anything that looks like a URL with credentials, or key=value passwords, is cut from driver text. */
export function redact(text: string): string {
  return text
    .replace(/[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]*/gi, "<redacted-url>")
    .replace(/password\s*[=:]\s*\S+/gi, "password=<redacted>");
}

function nodeErrorCode(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current instanceof Object && depth < 5; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && CONNECTION_CODES.has(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * The one place SQLSTATEs become IPAM errors. Callers map the constraint-specific cases
 * (unique address, overlap) before falling back to this. The original error is kept as a
 * non-enumerable `cause` for debugging; messages are redacted driver text, never SQL or values.
 */
export function wrapDatabaseError(error: unknown, doing: string): IpamError {
  if (error instanceof IpamError) return error;
  const state = sqlStateOf(error);
  const message = error instanceof Error ? error.message : String(error);
  const lower = message.toLowerCase();
  if (state === "40001") return new RetryableDatabaseError(`serialization failure while ${doing}`, error);
  if (state === "40P01") return new RetryableDatabaseError(`deadlock detected while ${doing}`, error);
  if (state === "55P03") return new RetryableDatabaseError(`lock timeout while ${doing}`, error);
  if (state === "57014") return new RetryableDatabaseError(`statement timed out or was cancelled while ${doing}`, error);
  if (state !== undefined && (state.startsWith("08") || state === "57P01" || state === "57P02" || state === "57P03")) {
    return new RetryableDatabaseError(`the database connection was lost while ${doing}`, error);
  }
  if (lower.includes("connection terminated") || lower.includes("terminating connection")) {
    return new RetryableDatabaseError(`the database connection was lost while ${doing}`, error);
  }
  if (state === "28P01" || state === "28000") return new DatabaseUnavailableError("authentication failed", error);
  if (state === "3D000") return new DatabaseUnavailableError("the database does not exist", error);
  const nodeCode = nodeErrorCode(error);
  if (nodeCode !== undefined) return new DatabaseUnavailableError(`connection failed (${nodeCode})`, error);
  if (lower.includes("timeout") && lower.includes("connect")) return new DatabaseUnavailableError("connection timed out", error);
  if (state === undefined) return new DatabaseError(`unexpected failure while ${doing}: ${redact(message).slice(0, 200)}`, undefined, error);
  return new DatabaseError(`failed while ${doing}: ${redact(message).slice(0, 200)}`, state, error);
}

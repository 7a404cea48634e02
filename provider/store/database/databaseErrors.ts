import { SchemaValidationError } from "slonik";
import {
  ConfigurationError,
  DatabaseError,
  DatabaseRestoredError,
  DatabaseUnavailableError,
  IpamError,
  RetryableDatabaseError,
  StatementTimeoutError,
  type TransientKind,
} from "../../core/errors.js";
import { redact } from "../../core/redact.js";
import { isDataException } from "../../core/underlyingError.js";

export { redact };

/** The SQLSTATE of a driver error, looking through slonik's wrappers. */
export function sqlStateOf(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current instanceof Object && depth < 5; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * What a SQLSTATE means to the store: the one table of the codes it acts on (as slonik's
 * createPgDriverFactory maps codes to its error classes in one place). Every other file asks for
 * a failure's kind (`failureOf`), never compares SQLSTATE text.
 */
export type FailureKind =
  | "database-restored"
  | "unique-violation"
  | "exclusion-violation"
  | "insufficient-privilege"
  | "lock-not-available"
  | "undefined-table"
  | "undefined-schema"
  | "too-many-connections"
  | "server-shutting-down"
  | "server-starting"
  | "connection-exception"
  | "serialization-failure"
  | "deadlock"
  | "query-canceled"
  | "invalid-password"
  | "login-refused"
  | "undefined-database"
  | "data-exception";

export function kindOfState(state: string | undefined): FailureKind | undefined {
  switch (state) {
    case undefined:
      return undefined;
    case "IPR23":
      return "database-restored";
    case "23505":
      return "unique-violation";
    case "23P01":
      return "exclusion-violation";
    case "42501":
      return "insufficient-privilege";
    case "55P03":
      return "lock-not-available";
    case "42P01":
      return "undefined-table";
    case "3F000":
      return "undefined-schema";
    case "53300":
      return "too-many-connections";
    case "57P01":
    case "57P02":
      return "server-shutting-down";
    case "57P03":
      return "server-starting";
    case "40001":
      return "serialization-failure";
    case "40P01":
      return "deadlock";
    case "57014":
      return "query-canceled";
    case "28P01":
      return "invalid-password";
    case "28000":
      return "login-refused";
    case "3D000":
      return "undefined-database";
  }
  if (state.startsWith("08")) return "connection-exception";
  if (isDataException(state)) return "data-exception";
  return undefined;
}

/** A driver error's kind (by its SQLSTATE) and the constraint it names. */
export function failureOf(error: unknown): { kind: FailureKind | undefined; constraint: string | undefined } {
  return { kind: kindOfState(sqlStateOf(error)), constraint: constraintOf(error) };
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
/** A connection that broke under a request: what was sent on it either never ran or was rolled back. */
const BROKEN_CONNECTION_CODES = new Set(["ECONNRESET", "EPIPE"]);

/**
 * Driver messages that mean "this connection is gone" (pg, slonik's driver), none of which tell
 * anything about the server's state: the work on that connection was rolled back or never sent.
 */
const LOST_CONNECTION_TEXT = [
  "connection terminated",
  "terminating connection",
  "backend has been terminated",
  "not queryable",
  "pending destroy",
  "client is destroyed",
  "server closed the connection unexpectedly",
  "connection ended unexpectedly",
];

/**
 * Which transient class a failure is, or undefined when it is not one. Each of these is known to
 * have changed nothing by itself (a rolled-back or never-run statement); whether a COMMIT was lost
 * with the connection is decided by the caller, who knows if one was in flight.
 */
export function transientKind(state: string | undefined, lowerMessage: string, nodeCode?: string): TransientKind | undefined {
  const kind = kindOfState(state);
  if (kind === "too-many-connections") return "too-many-connections";
  if (kind === "server-starting") return "server-unavailable";
  if (kind === "server-shutting-down" || kind === "connection-exception") return "connection-lost";
  if (kind === "serialization-failure") return "serialization";
  if (kind === "deadlock") return "deadlock";
  if (kind === "lock-not-available") return "lock-timeout";
  if (kind === "query-canceled" && lowerMessage.includes("user request")) return "cancelled";
  if (state === undefined && LOST_CONNECTION_TEXT.some((text) => lowerMessage.includes(text))) return "connection-lost";
  if (nodeCode !== undefined && BROKEN_CONNECTION_CODES.has(nodeCode)) return "connection-lost";
  return undefined;
}

const TRANSIENT_REASONS: Record<TransientKind, (doing: string) => string> = {
  "too-many-connections": (doing) => `the database server has no free connection slot (too many clients, SQLSTATE 53300) while ${doing}`,
  "server-unavailable": (doing) => `the database server is starting up or shutting down while ${doing}`,
  "connection-lost": (doing) => `the database connection was lost while ${doing} (its transaction was rolled back)`,
  serialization: (doing) => `serialization failure while ${doing}`,
  deadlock: (doing) => `deadlock detected while ${doing}`,
  "lock-timeout": (doing) => `lock timeout while ${doing}`,
  cancelled: (doing) => `the statement was cancelled while ${doing}`,
  "changed-meanwhile": (doing) => `a concurrent change while ${doing}`,
};

function nodeErrorCode(error: unknown, codes: ReadonlySet<string> = CONNECTION_CODES): string | undefined {
  for (let current: unknown = error, depth = 0; current instanceof Object && depth < 5; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && codes.has(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

const MALFORMED_URL_CODES = new Set(["ERR_INVALID_URL"]);

/**
 * A connection URL the drivers cannot parse. Their errors hold the URL (Node's URL error keeps it
 * as `input`), so the answer says what is wrong and nothing of what was given.
 */
function configurationProblem(error: unknown): ConfigurationError | undefined {
  if (nodeErrorCode(error, MALFORMED_URL_CODES) !== undefined) {
    return new ConfigurationError(
      "databaseUrl is not a valid connection URL: expected postgres://user:password@host:port/database, with special characters in the password percent-encoded",
    );
  }
  const issues = (error as { issues?: unknown } | null)?.issues;
  if (error instanceof Error && error.name === "ZodError" && Array.isArray(issues)) {
    const problems = issues.map((issue: { path?: unknown[]; message?: unknown }) => `${(issue.path ?? []).join(".")}: ${String(issue.message)}`);
    return new ConfigurationError(`databaseUrl has an unsupported parameter (${redact(problems.join("; ")).slice(0, 300)})`);
  }
  return undefined;
}

/** Node's codes for a server certificate it would not accept (tls.connect, checkServerIdentity). */
const CERTIFICATE_CODE = /^(ERR_TLS_CERT_ALTNAME_INVALID|[A-Z_]*CERT[A-Z_]*|UNABLE_TO_[A-Z_]+)$/;

/** A TLS failure: the server does not speak TLS, or its certificate is not the one sslmode asks for. Not retryable. */
function tlsProblem(error: unknown, lower: string): DatabaseUnavailableError | undefined {
  if (lower.includes("does not support ssl")) {
    return new DatabaseUnavailableError("the server does not accept TLS connections, but sslmode asks for TLS", error, false);
  }
  for (let current: unknown = error, depth = 0; current instanceof Object && depth < 5; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && CERTIFICATE_CODE.test(code)) {
      return new DatabaseUnavailableError(`the server's TLS certificate was not accepted (${code}; check sslrootcert and the host name for sslmode=verify-full)`, error, false);
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * The one place SQLSTATEs become IPAM errors. Callers map the constraint-specific cases
 * (unique address, overlap) before falling back to this. A safe summary of the original error
 * (class, redacted message, SQLSTATE, constraint, stack frames) is kept as a non-enumerable
 * `cause` for debugging; messages are redacted driver text, never SQL or values.
 */
export function wrapDatabaseError(error: unknown, doing: string): IpamError {
  if (error instanceof IpamError) return error;
  const configuration = configurationProblem(error);
  if (configuration !== undefined) return configuration;
  if (error instanceof SchemaValidationError) {
    const columns = [...new Set(error.issues.map((issue) => (issue.path ?? []).map((part) => String(typeof part === "object" ? part.key : part)).join(".")))];
    return new DatabaseError(
      `a row read while ${doing} does not have the expected shape (${redact(columns.join(", ")).slice(0, 200)}); was the schema changed by hand or by another version?`,
      undefined,
      error,
    );
  }
  const state = sqlStateOf(error);
  // Before any look at the text: it quotes the value, which could read like anything.
  if (kindOfState(state) === "data-exception") return new DatabaseError(`the database refused a value while ${doing} (${dataExceptionName(state!)}; the value is not repeated)`, state, error);
  const message = error instanceof Error ? error.message : String(error);
  // Migration 0011's write fence: its message is ours ("DATABASE_RESTORED: <what was detected>").
  if (kindOfState(state) === "database-restored") return new DatabaseRestoredError(`writes are refused while ${doing}: ${redact(message.replace(/^DATABASE_RESTORED: /, "")).slice(0, 300)}`, error);
  const lower = message.toLowerCase();
  const transient = transientKind(state, lower, nodeErrorCode(error));
  if (transient !== undefined) return new RetryableDatabaseError(TRANSIENT_REASONS[transient](doing), error, transient);
  if (kindOfState(state) === "query-canceled") return new StatementTimeoutError(doing, error);
  // Refusals that waiting will not change: not retryable.
  if (kindOfState(state) === "invalid-password") return new DatabaseUnavailableError("authentication failed", error, false);
  if (kindOfState(state) === "login-refused") {
    return new DatabaseUnavailableError("the server refused this login (no pg_hba.conf entry: does it require TLS, sslmode=verify-full?)", error, false);
  }
  if (kindOfState(state) === "undefined-database") return new DatabaseUnavailableError("the database does not exist", error, false);
  const tls = tlsProblem(error, lower);
  if (tls !== undefined) return tls;
  const nodeCode = nodeErrorCode(error);
  if (nodeCode !== undefined) return new DatabaseUnavailableError(`connection failed (${nodeCode})`, error);
  if ((lower.includes("timeout") && lower.includes("connect")) || lower === "timeout expired") return new DatabaseUnavailableError("connection timed out", error);
  if (state === undefined) return new DatabaseError(`unexpected failure while ${doing}: ${redact(message).slice(0, 200)}`, undefined, error);
  return new DatabaseError(`failed while ${doing}: ${redact(message).slice(0, 200)}`, state, error);
}

/** PostgreSQL's names of the data exceptions (SQLSTATE class 22) a bound value can cause. */
const DATA_EXCEPTIONS: Readonly<Record<string, string>> = {
  "22001": "string data right truncation",
  "22003": "numeric value out of range",
  "22004": "null value not allowed",
  "22007": "invalid datetime format",
  "22008": "datetime field overflow",
  "22012": "division by zero",
  "22021": "character not in repertoire",
  "22023": "invalid parameter value",
  "22P02": "invalid text representation",
  "22P05": "untranslatable character",
};

function dataExceptionName(state: string): string {
  return DATA_EXCEPTIONS[state] ?? "data exception";
}

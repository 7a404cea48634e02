import { SchemaValidationError } from "slonik";
import {
  ConfigurationError,
  DatabaseError,
  DatabaseUnavailableError,
  IpamError,
  RetryableDatabaseError,
} from "../core/errors.js";
import { redact } from "../core/redact.js";
import { isDataException } from "../core/underlyingError.js";

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
  if (isDataException(state)) return new DatabaseError(`the database refused a value while ${doing} (${dataExceptionName(state!)}; the value is not repeated)`, state, error);
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

import { displayText } from "./displayText.js";
import { underlyingError } from "./underlyingError.js";

/**
 * Every failure the IPAM surfaces is an IpamError with a stable `code`.
 * Messages name the field and the reason; they never carry SQL text, bound values
 * of internal queries, or connection strings.
 */
export type IpamErrorCode =
  | "INVALID_INPUT"
  | "NOT_FOUND"
  | "ADDRESS_IN_USE"
  | "SUBNET_EXHAUSTED"
  | "SUBNET_IN_USE"
  | "OVERLAP"
  | "CONFLICT"
  | "IDEMPOTENCY_MISMATCH"
  | "SUPERSEDED"
  | "LOCK_TIMEOUT"
  | "RETRYABLE"
  | "POOL_TIMEOUT"
  | "OUTCOME_UNKNOWN"
  | "STATEMENT_TIMEOUT"
  | "DATABASE_UNAVAILABLE"
  | "DATABASE_ERROR"
  | "CONFIGURATION"
  | "DATABASE_MISMATCH"
  | "DATABASE_RESTORED"
  | "ADDRESS_HELD";

export class IpamError extends Error {
  readonly code: IpamErrorCode;
  /** True when the same request may succeed if sent again (it changed nothing). */
  readonly retryable: boolean;

  constructor(code: IpamErrorCode, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    // Messages quote stored text (owners, keys, tags): made safe to print wherever they end up
    // (a terminal, the Pulumi CLI, logs), since a caller cannot tell which parts came from users.
    super(displayText(wellFormed(message)));
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
    // The cause may be a driver error holding SQL, values or the connection URL: keep only its
    // safe summary, and keep even that off the enumerable surface (JSON, structured loggers).
    if (options.cause !== undefined) {
      Object.defineProperty(this, "cause", { value: underlyingError(options.cause), enumerable: false, writable: false });
    }
  }

  toJSON(): Record<string, unknown> {
    const details: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(this)) {
      if (key !== "cause") details[key] = value;
    }
    return { name: this.name, message: this.message, ...details };
  }
}

/**
 * Unpaired surrogates become U+FFFD. Messages travel as UTF-8 (gRPC status, logs, JSON): the
 * Pulumi host's gRPC server throws on a malformed one instead of answering, and the call hangs.
 */
function wellFormed(text: string): string {
  return text.replace(/\p{Surrogate}/gu, "\uFFFD");
}

export interface InputIssue {
  /** Dotted path of the offending field, e.g. `allocationPools.0.start`. */
  readonly field: string;
  readonly reason: string;
}

export class InvalidInputError extends IpamError {
  readonly issues: readonly InputIssue[];
  constructor(issues: readonly InputIssue[]) {
    // A path can hold a hostile tag key: report it well-formed and printable, as the message will be.
    const named = issues.map((issue) => ({ field: displayText(wellFormed(issue.field)), reason: displayText(wellFormed(issue.reason)) }));
    super("INVALID_INPUT", named.map((issue) => `${issue.field}: ${issue.reason}`).join("; "));
    this.issues = named;
  }
  static of(field: string, reason: string): InvalidInputError {
    return new InvalidInputError([{ field, reason }]);
  }
}

export class NotFoundError extends IpamError {
  readonly entity: "subnet" | "allocation" | "address";
  readonly id: string;
  constructor(entity: "subnet" | "allocation" | "address", id: string) {
    super("NOT_FOUND", `${entity} ${id} not found`);
    this.entity = entity;
    this.id = id;
  }
}

/** A change sent with a claim older than the latest claimant's (README "Claims"): nothing changed. */
export class SupersededError extends IpamError {
  readonly entity: "subnet" | "allocation";
  readonly id: string;
  constructor(entity: "subnet" | "allocation", id: string) {
    super(
      "SUPERSEDED",
      `${entity} ${id} is held by a newer claimant (a replacement of this resource, or another stack that adopted it); nothing was changed: refresh to drop it from this stack`,
    );
    this.entity = entity;
    this.id = id;
  }
}

export class AddressInUseError extends IpamError {
  readonly subnetId: string;
  readonly address: string;
  constructor(subnetId: string, address: string) {
    super("ADDRESS_IN_USE", `address ${address} in subnet ${subnetId} is already allocated`);
    this.subnetId = subnetId;
    this.address = address;
  }
}

export class SubnetExhaustedError extends IpamError {
  readonly subnetId: string;
  readonly requested: number;
  constructor(subnetId: string, requested: number, free?: string) {
    super(
      "SUBNET_EXHAUSTED",
      `subnet ${subnetId} has no room for ${requested} more address${requested === 1 ? "" : "es"}` +
        (free === undefined ? "" : ` (${free} free in its pools)`),
    );
    this.subnetId = subnetId;
    this.requested = requested;
  }
}

/** No free aligned block of the requested prefix length is left in a parent. */
export class PrefixExhaustedError extends IpamError {
  readonly subnetId: string;
  readonly cidr: string;
  readonly prefixLength: number;
  constructor(subnetId: string, cidr: string, prefixLength: number) {
    super("SUBNET_EXHAUSTED", `subnet ${subnetId} (${cidr}) has no free /${prefixLength} left for a child subnet`);
    this.subnetId = subnetId;
    this.cidr = cidr;
    this.prefixLength = prefixLength;
  }
}

/** An address asked for directly in a parent lies inside one of its children. */
export class AddressInChildSubnetError extends IpamError {
  readonly subnetId: string;
  readonly address: string;
  readonly childId: string;
  readonly childCidr: string;
  constructor(subnetId: string, address: string, childId: string, childCidr: string) {
    super(
      "ADDRESS_IN_USE",
      `address ${address} of subnet ${subnetId} is inside its child subnet ${childId} (${childCidr}); allocate it from that subnet`,
    );
    this.subnetId = subnetId;
    this.address = address;
    this.childId = childId;
    this.childCidr = childCidr;
  }
}

export class SubnetInUseError extends IpamError {
  readonly subnetId: string;
  /** How many of `what` the subnet still holds. */
  readonly allocationCount: number;
  readonly examples: readonly string[];
  /** What keeps it in use: "allocation" or "child subnet". */
  readonly what: string;
  constructor(subnetId: string, allocationCount: number, examples: readonly string[], what = "allocation") {
    const plural = allocationCount === 1 ? "" : "s";
    super(
      "SUBNET_IN_USE",
      `subnet ${subnetId} still has ${allocationCount} ${what}${plural}` +
        (examples.length > 0 ? ` (first: ${examples.join(", ")})` : "") +
        `; ${what === "allocation" ? "release" : "delete"} ${allocationCount === 1 ? "it" : "them"} first`,
    );
    this.subnetId = subnetId;
    this.allocationCount = allocationCount;
    this.examples = examples;
    this.what = what;
  }
}

export class OverlapError extends IpamError {
  readonly cidr: string;
  readonly namespace: string;
  constructor(cidr: string, namespace: string, existing?: string) {
    super(
      "OVERLAP",
      `cidr ${cidr} overlaps ${existing === undefined ? "an existing subnet" : `subnet ${existing}`} in namespace "${namespace}"`,
    );
    this.cidr = cidr;
    this.namespace = namespace;
  }
}

/** A change would make existing allocations illegal (gateway or reserved over allocated addresses). */
export class ConflictError extends IpamError {
  readonly field: string;
  readonly addresses: readonly string[];
  constructor(field: string, reason: string, addresses: readonly string[]) {
    super("CONFLICT", `${field}: ${reason}: ${addresses.join(", ")}`);
    this.field = field;
    this.addresses = addresses;
  }
}

export class IdempotencyMismatchError extends IpamError {
  readonly idempotencyKey: string;
  /** The request fields that differ from the first request's (empty when not broken down). */
  readonly fields: readonly string[];
  constructor(idempotencyKey: string, reason: string, fields: readonly string[] = []) {
    super("IDEMPOTENCY_MISMATCH", `idempotencyKey ${JSON.stringify(idempotencyKey)} was used for a different request: ${reason}`);
    this.idempotencyKey = idempotencyKey;
    this.fields = fields;
  }
}

/** The PostgreSQL session holding a subnet's advisory lock, as pg_locks and pg_stat_activity show it. */
export interface LockHolder {
  readonly pid: number;
  readonly applicationName: string;
  readonly user: string | null;
  /** When its transaction (or, for a session-level lock outside one, its session) started; null when the viewer may not see it. */
  readonly since: string | null;
}

/**
 * `holder`: undefined when it was not looked up, null when no session held the lock by the time it
 * was looked up (just after the wait failed), else the session, so an operator can end it
 * (any login to the database can take a subnet's advisory lock; keep IPAM in its own database).
 */
export class LockTimeoutError extends IpamError {
  readonly subnetId: string;
  readonly holder: LockHolder | null | undefined;
  constructor(subnetId: string, cause?: unknown, holder?: LockHolder | null) {
    super("LOCK_TIMEOUT", `timed out waiting for the lock on subnet ${subnetId}; nothing was changed, retry${describeHolder(holder)}`, {
      cause,
      retryable: true,
    });
    this.subnetId = subnetId;
    this.holder = holder;
  }
}

function describeHolder(holder: LockHolder | null | undefined): string {
  if (holder === undefined) return "";
  if (holder === null) return " (no session held the lock by the time this was checked)";
  const since = holder.since === null ? "since a time this login may not see (pg_read_all_stats shows it)" : `since ${holder.since}`;
  const user = holder.user === null ? "" : `, user ${quoteStored(holder.user)}`;
  return (
    `. The lock is held by the database session with pid ${holder.pid} (application_name ${quoteStored(holder.applicationName)}${user}, ${since}); ` +
    `if it is stuck, an administrator can end it (pg_terminate_backend(${holder.pid}))`
  );
}

/** Text another client stored (an application name): quoted, shortened, with control, C1 and bidi characters escaped. */
function quoteStored(text: string): string {
  const short = text.length > 64 ? `${text.slice(0, 64)}…` : text;
  return JSON.stringify(short).replace(/[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * Which transient failure a RetryableDatabaseError is (stable, for callers and logs):
 * too-many-connections (53300), server-unavailable (57P01-57P03: shutting down, starting),
 * connection-lost (08xxx, a terminated backend, the driver's "not queryable"/"pending destroy"),
 * serialization (40001), deadlock (40P01), lock-timeout (55P03), cancelled (57014 by request),
 * changed-meanwhile (a concurrent change the request must re-read).
 */
export type TransientKind =
  | "too-many-connections"
  | "server-unavailable"
  | "connection-lost"
  | "serialization"
  | "deadlock"
  | "lock-timeout"
  | "cancelled"
  | "changed-meanwhile";

/** A transient failure known to have changed nothing: the same request may succeed if sent again. */
export class RetryableDatabaseError extends IpamError {
  readonly transient: TransientKind;
  constructor(reason: string, cause?: unknown, transient: TransientKind = "changed-meanwhile") {
    super("RETRYABLE", `${reason}; nothing was changed, retry`, {
      cause,
      retryable: true,
    });
    this.transient = transient;
  }
}

/** Every connection of the pool stayed busy for the whole wait: the request was never sent. */
export class PoolTimeoutError extends IpamError {
  readonly poolSize: number;
  readonly waitedMs: number;
  constructor(doing: string, poolSize: number, waitedMs: number) {
    super(
      "POOL_TIMEOUT",
      `no database connection became free within ${waitedMs} ms while ${doing} (all ${poolSize} of this process's connections were busy); nothing was changed, retry`,
      { retryable: true },
    );
    this.poolSize = poolSize;
    this.waitedMs = waitedMs;
  }
}

/**
 * The connection failed after a change was sent to be committed (COMMIT, or a change made by one
 * autocommit statement) and before the server's answer arrived: the change may or may not have
 * been made. A request with an idempotency key or a claim can be sent again safely: it returns
 * what the first attempt made, or makes it now.
 */
export class OutcomeUnknownError extends IpamError {
  constructor(doing: string, cause?: unknown) {
    super(
      "OUTCOME_UNKNOWN",
      `the database connection was lost while ${doing}, after the change was sent to be committed: it may or may not have been made; retry the same request (with its idempotency key or claim) to learn which`,
      { cause, retryable: true },
    );
  }
}

/**
 * A provider call ran past its overall deadline (its retry budget plus the longest its last attempt
 * may take): something stopped answering without an error, such as a half-open connection. The
 * work may still finish in the background, so its outcome is unknown.
 */
export class CallDeadlineError extends IpamError {
  constructor(doing: string, deadlineMs: number) {
    super(
      "OUTCOME_UNKNOWN",
      `did not finish within ${Math.round(deadlineMs / 1_000)} s while ${doing} (a database connection stopped answering?); the change may or may not have been made: retry the same request to learn which`,
      { retryable: true },
    );
  }
}

/** A statement ran past statementTimeoutMs and was cancelled; its transaction was rolled back. */
export class StatementTimeoutError extends IpamError {
  constructor(doing: string, cause?: unknown) {
    super(
      "STATEMENT_TIMEOUT",
      `a statement ran longer than the statement timeout (statementTimeoutMs) while ${doing} and was cancelled; nothing was changed. Raise statementTimeoutMs (ipam:statementTimeoutMs) if the work is legitimately this slow`,
      { cause },
    );
  }
}

export class DatabaseUnavailableError extends IpamError {
  constructor(reason: string, cause?: unknown, retryable = true) {
    super("DATABASE_UNAVAILABLE", `cannot reach the IPAM database: ${reason}`, { cause, retryable });
  }
}

export class DatabaseError extends IpamError {
  readonly sqlState: string | undefined;
  constructor(reason: string, sqlState: string | undefined, cause?: unknown) {
    super("DATABASE_ERROR", `IPAM database error${sqlState ? ` (SQLSTATE ${sqlState})` : ""}: ${reason}`, { cause });
    this.sqlState = sqlState;
  }
}

export class ConfigurationError extends IpamError {
  constructor(message: string) {
    super("CONFIGURATION", message);
  }
}

/**
 * A resource's state says another database holds it (docs/identity.md): nothing was read or changed
 * in either database. `recorded` is null for state written before identities existed, when the row
 * under its id turned out not to be the one the resource made.
 */
export class DatabaseMismatchError extends IpamError {
  readonly recorded: string | null;
  readonly current: string;
  constructor(recorded: string | null, current: string, message: string) {
    super("DATABASE_MISMATCH", message);
    this.recorded = recorded;
    this.current = current;
  }
}

/** An import would collide with what the target database already holds (ids, keys); it changed nothing. */
export class SnapshotConflictError extends IpamError {
  readonly field: string;
  readonly ids: readonly string[];
  constructor(field: string, reason: string, ids: readonly string[]) {
    super("CONFLICT", `${field}: ${reason}${ids.length > 0 ? `: ${ids.join(", ")}` : ""}`);
    this.field = field;
    this.ids = ids;
  }
}

/**
 * The database refuses writes: it is no longer the one that issued its latest allocations (restored
 * from a backup, a promoted standby, a copy; migration 0011's write fence), or a resource's state
 * holds what the database lost. Nothing was changed; reads keep working. Not retryable: an
 * operator acts (docs/operations.md).
 */
export class DatabaseRestoredError extends IpamError {
  constructor(reason: string, cause?: unknown) {
    super(
      "DATABASE_RESTORED",
      `${reason}; nothing was changed. Run \`ipam reconcile --from-state <pulumi stack export files>\` with the schema owner's login (or \`ipam db accept-restore\`): docs/operations.md`,
      { cause },
    );
  }
}

/** A specific address released moments ago is held back (the subnet's releaseHoldSeconds) for another owner. */
export class AddressHeldError extends IpamError {
  readonly subnetId: string;
  readonly address: string;
  readonly secondsLeft: number;
  constructor(subnetId: string, address: string, secondsLeft: number) {
    super("ADDRESS_HELD", `address ${address} in subnet ${subnetId} was released and is held for ${secondsLeft} s more (releaseHoldSeconds); nothing was changed`);
    this.subnetId = subnetId;
    this.address = address;
    this.secondsLeft = secondsLeft;
  }
}

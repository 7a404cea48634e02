import { CallDeadlineError, ConfigurationError, IpamError } from "../core/errors.js";
import { RetriesExhausted, withRetries } from "../core/retrying.js";
import type { Ipam } from "../store/Ipam.js";

/** Raw config as the SDK host hands it to `configure` (`ipam:databaseUrl` arrives in plaintext). */
export interface HostConfig {
  get(key: string): string | undefined;
}

/** Where the database URL came from: named in errors (never the URL itself), see docs/identity.md. */
export type DatabaseSource = "ipam:databaseUrl" | "IPAM_DATABASE_URL" | "embedded";

let configuredUrl: string | undefined;
let configuredMovedFrom: readonly string[] = [];
let source: DatabaseSource | undefined;
let opening: Promise<Ipam> | undefined;

/** Connection settings a stack may configure (docs/connections.md); each a whole number within its range. */
const NUMERIC_SETTINGS = {
  maxConnections: { key: "ipam:maxConnections", min: 1, max: 100 },
  retryTimeoutSeconds: { key: "ipam:retryTimeoutSeconds", min: 0, max: 3_600 },
  statementTimeoutMs: { key: "ipam:statementTimeoutMs", min: 1, max: 3_600_000 },
  lockTimeoutMs: { key: "ipam:lockTimeoutMs", min: 1, max: 3_600_000 },
} as const;
type SettingName = keyof typeof NUMERIC_SETTINGS;

/** How long a provider call keeps retrying transient failures unless `ipam:retryTimeoutSeconds` says otherwise. */
export const DEFAULT_RETRY_TIMEOUT_SECONDS = 60;

let settings: Partial<Record<SettingName, number>> = {};
let settingsProblem: ConfigurationError | undefined;

/** Remember the configured URL and settings; nothing connects until a method needs the database. */
export function configureConnection(config: HostConfig | undefined): void {
  const url = config?.get("ipam:databaseUrl");
  configuredUrl = typeof url === "string" && url !== "" ? url : undefined;
  // Identities of databases whose data moved to this one on purpose (docs/identity.md).
  const movedFrom = config?.get("ipam:databaseMovedFrom");
  configuredMovedFrom = typeof movedFrom === "string" ? movedFrom.split(",").map((id) => id.trim()).filter((id) => id !== "") : [];
  settings = {};
  settingsProblem = undefined;
  for (const [name, { key, min, max }] of Object.entries(NUMERIC_SETTINGS) as [SettingName, (typeof NUMERIC_SETTINGS)[SettingName]][]) {
    const text = config?.get(key);
    if (text === undefined || text === "") continue;
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) {
      // The value is not echoed: config is plaintext, and a misplaced secret must not surface.
      settingsProblem = new ConfigurationError(`${key} must be a whole number from ${min} to ${max}`);
      continue;
    }
    settings[name] = value;
  }
  // New settings take effect on the next call: a pool opened under the old ones is closed. The host
  // configures every provider it deserializes (Subnet's, IpAllocation's, ...) with the same config,
  // often while calls through another are in flight: an unchanged configuration keeps the pool.
  const configured = JSON.stringify([configuredUrl, settings, settingsProblem?.message ?? null]);
  if (configured === lastConfigured) return;
  lastConfigured = configured;
  const previous = opening;
  opening = undefined;
  void previous?.then((open) => open.close()).catch(() => undefined);
}

let lastConfigured: string | undefined;

/** The identities `ipam:databaseMovedFrom` names. */
export function movedFrom(): readonly string[] {
  return configuredMovedFrom;
}

/** Which setting chose the database `ipam()` opened (undefined before it opened one). */
export function databaseSource(): DatabaseSource | undefined {
  return source;
}

/**
 * One Ipam per host process, opened lazily: configure's `ipam:databaseUrl`, else IPAM_DATABASE_URL,
 * else the local embedded database (refused under CI=true by ensureLocalDatabase).
 * @throws ConfigurationError (CI without a URL), DatabaseUnavailableError
 */
export function ipam(): Promise<Ipam> {
  if (opening !== undefined) return opening;
  const current = (async () => {
    if (settingsProblem !== undefined) throw settingsProblem;
    const envUrl = process.env.IPAM_DATABASE_URL;
    const chosen: DatabaseSource = configuredUrl !== undefined ? "ipam:databaseUrl" : envUrl !== undefined && envUrl !== "" ? "IPAM_DATABASE_URL" : "embedded";
    // The embedded server's code (initdb, accounts, binaries) is loaded only by a host that uses it.
    const url = configuredUrl ?? (chosen === "IPAM_DATABASE_URL" ? envUrl! : await (await import("../localDatabase/index.js")).ensureLocalDatabase());
    // The store (slonik, pg and the store's modules, ~4 MiB of the package's ~7 MiB of objects) is
    // loaded by the first call that needs the database: a host that only checks and diffs (a
    // preview) never loads it (test/provider/hostModules.test.ts).
    const { Ipam } = await import("../store/Ipam.js");
    const opened = await Ipam.open({
      databaseUrl: url,
      ...(settings.maxConnections === undefined ? {} : { maxConnections: settings.maxConnections }),
      ...(settings.statementTimeoutMs === undefined ? {} : { statementTimeoutMs: settings.statementTimeoutMs }),
      ...(settings.lockTimeoutMs === undefined ? {} : { lockTimeoutMs: settings.lockTimeoutMs }),
    });
    source = chosen;
    return opened;
  })();
  opening = current;
  // A failed open is tried again by the next call (a retry); a newer configure's open is kept.
  current.catch(() => {
    if (opening === current) opening = undefined;
  });
  return current;
}

const identities = new WeakMap<Ipam, Promise<string>>();

/**
 * The identity (installation id, migration 0006) of the database `db` reaches; read once per
 * connection (it never changes under one). A failed read is tried again by the next call.
 * @throws the store's failure reading it
 */
export function identityOf(db: Ipam): Promise<string> {
  let id = identities.get(db);
  if (id === undefined) {
    id = db.installationId();
    id.catch(() => identities.delete(db));
    identities.set(db, id);
  }
  return id;
}

/**
 * The store and the identity of the database it reaches, in one step: what a create needs before
 * it writes (the identity goes into the resource's outputs; see databaseIdentity.ts).
 * @throws as ipam() and identityOf()
 */
export async function ipamWithIdentity(): Promise<{ db: Ipam; database: string }> {
  const db = await ipam();
  return { db, database: await identityOf(db) };
}

/** What a provider call has made durable so far, for an honest message if a later step fails. */
export interface Progress {
  /** Set once the change is committed, e.g. "allocation 12 (10.0.0.5)". */
  committed?: string;
}

/**
 * Run provider work, retrying transient failures (too many connections, a restarting server, a
 * lost connection, serialization failures, deadlocks, lock timeouts) with jittered backoff for up
 * to `ipam:retryTimeoutSeconds` (default 60). Retrying a whole call is safe because every
 * mutation the providers make carries its idempotency key or claim (docs/connections.md); a call
 * without one (`idempotent: false`) is not retried after a lost COMMIT. Any failure is rethrown
 * as a plain Error whose message is safe to show: IpamError messages are written without secrets;
 * anything else (driver errors quoting the connection string) is replaced by its kind.
 */
export async function guarded<T>(doing: string, work: (progress: Progress) => Promise<T>, options: { idempotent?: boolean } = {}): Promise<T> {
  const progress: Progress = {};
  const timeoutMs = (settings.retryTimeoutSeconds ?? DEFAULT_RETRY_TIMEOUT_SECONDS) * 1_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    const retried = withRetries({ timeoutMs, idempotent: options.idempotent ?? true }, () => work(progress));
    // The backstop that makes every call end: each attempt is already bounded (connect, pool
    // wait, lock and statement timeouts), but a connection that stops answering without an error
    // is not; the last attempt may take its full bounds after the retry budget is spent.
    const deadlineMs = timeoutMs + CONNECT_AND_WAIT_MS + (settings.lockTimeoutMs ?? 30_000) + 2 * (settings.statementTimeoutMs ?? 60_000);
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CallDeadlineError(doing, deadlineMs)), deadlineMs);
    });
    return (await Promise.race([retried, deadline])).value;
  } catch (error) {
    const failure = error instanceof RetriesExhausted ? error.last : error;
    const tries = error instanceof RetriesExhausted && error.attempts > 1 ? ` (gave up after ${error.attempts} attempts in ${Math.round(error.elapsedMs / 1_000)} s)` : "";
    const made = progress.committed === undefined ? "" : `${progress.committed} was made, but then: `;
    const rerun = progress.committed === undefined ? "" : "; it is not lost: running the same deployment again returns it";
    throw new Error(`ipam: ${doing}: ${made}${safeMessage(failure)}${tries}${rerun}`);
  } finally {
    clearTimeout(timer);
  }
}

/** Connecting (10 s) and waiting for one of the host's connections (30 s), once. */
const CONNECT_AND_WAIT_MS = 40_000;

export function safeMessage(error: unknown): string {
  const text = error instanceof IpamError ? `${error.message} (${error.code})` : "unexpected internal error";
  return scrub(text);
}

/** Belt and braces: never let a URL or the configured password leave the process. */
export function scrub(text: string): string {
  let out = text.replace(/postgres(ql)?:\/\/\S+/gi, "postgres://<redacted>");
  for (const url of [configuredUrl, process.env.IPAM_DATABASE_URL]) {
    if (!url) continue;
    try {
      const password = decodeURIComponent(new URL(url).password);
      if (password) out = out.split(password).join("<redacted>");
    } catch {
      // not a URL: nothing to scrub
    }
  }
  return out;
}

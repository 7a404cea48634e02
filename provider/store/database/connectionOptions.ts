import { readFileSync } from "node:fs";
import type { ConnectionOptions as TlsOptions } from "node:tls";
import { ConfigurationError } from "../../core/errors.js";
import { withLibpqTlsEnvironment } from "./libpqEnvironment.js";

/** libpq's sslmode values we can honour exactly. `allow`/`prefer` fall back to plaintext silently, so they are refused. */
export const SSL_MODES = ["disable", "require", "verify-ca", "verify-full"] as const;
export type SslMode = (typeof SSL_MODES)[number];

/**
 * What every client of the IPAM database (the migration client, the slonik pool) connects with,
 * parsed once from the connection URL. `ssl` is false or the exact Node TLS options.
 */
export interface ConnectionOptions {
  readonly host: string | undefined;
  readonly port: number | undefined;
  readonly user: string | undefined;
  /** Holds a secret: hand it to a driver, never print it. */
  readonly password: string | undefined;
  readonly database: string | undefined;
  readonly applicationName: string | undefined;
  readonly sslMode: SslMode;
  readonly ssl: false | TlsOptions;
}

/** Query parameters we understand. Anything else is refused: a misspelt TLS option must never mean plaintext. */
const KNOWN = new Set(["sslmode", "sslrootcert", "sslcert", "sslkey", "application_name", "host"]);

const FORBIDDEN_HINT: Record<string, string> = {
  ssl: "use sslmode=require, verify-ca or verify-full instead (ssl=… is not a libpq parameter and is not honoured by every client)",
  sslpassword: "encrypted client keys are not supported; use an unencrypted sslkey file readable only by you",
  sslcrl: "certificate revocation lists are not supported",
  sslnegotiation: "only the standard TLS negotiation is supported",
};

/**
 * Parse a postgres:// URL into the options every client uses. TLS parameters follow libpq:
 * `sslmode` disable | require | verify-ca | verify-full (default: disable, as libpq's `prefer` would
 * be, but never a silent downgrade: `prefer`/`allow` are refused), `sslrootcert` a CA file (with
 * `require` it makes the mode verify-ca, as in libpq), `sslcert` + `sslkey` a client certificate. A TLS
 * parameter the URL leaves out comes from its libpq variable (PGSSLMODE, PGSSLROOTCERT, …), as in libpq.
 * @throws ConfigurationError naming the parameter (never its value, never the URL)
 */
export function parseConnectionUrl(url: string): ConnectionOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigurationError(
      "databaseUrl is not a valid connection URL: expected postgres://user:password@host:port/database, with special characters in the password percent-encoded",
    );
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    throw new ConfigurationError("databaseUrl must start with postgres:// or postgresql://");
  }
  const params = new Map<string, string>();
  for (const [name, value] of parsed.searchParams) {
    if (params.has(name)) throw new ConfigurationError(`databaseUrl gives the parameter "${safeName(name)}" twice`);
    if (!KNOWN.has(name)) {
      const hint = FORBIDDEN_HINT[name] ?? `supported parameters: ${[...KNOWN].join(", ")}`;
      throw new ConfigurationError(`databaseUrl has an unsupported parameter "${safeName(name)}": ${hint}`);
    }
    params.set(name, value);
  }
  const tls = withLibpqTlsEnvironment(params, SSL_MODES);
  const sslMode = sslModeOf(tls);
  const port = parsed.port === "" ? undefined : Number(parsed.port);
  const decode = (text: string) => (text === "" ? undefined : decodeURIComponent(text));
  const database = parsed.pathname.length > 1 ? decodeURIComponent(parsed.pathname.slice(1)) : undefined;
  return {
    host: parsed.hostname === "" ? params.get("host") : decodeURIComponent(parsed.hostname.replace(/^\[(.*)\]$/, "$1")),
    port,
    user: decode(parsed.username),
    password: decode(parsed.password),
    database,
    applicationName: params.get("application_name"),
    sslMode,
    ssl: tlsOptions(sslMode, tls),
  };
}

function sslModeOf(params: ReadonlyMap<string, string>): SslMode {
  const given = params.get("sslmode");
  if (given === undefined) return params.has("sslrootcert") ? "verify-ca" : "disable";
  if (!(SSL_MODES as readonly string[]).includes(given)) {
    throw new ConfigurationError(
      `databaseUrl: sslmode must be one of ${SSL_MODES.join(", ")}` +
        (given === "prefer" || given === "allow" ? ` ("${given}" may silently connect without TLS)` : ""),
    );
  }
  // libpq: "require" with a root certificate verifies the chain, like verify-ca.
  if (given === "require" && params.has("sslrootcert")) return "verify-ca";
  return given as SslMode;
}

function tlsOptions(mode: SslMode, params: ReadonlyMap<string, string>): false | TlsOptions {
  const files = ["sslrootcert", "sslcert", "sslkey"].filter((name) => params.has(name));
  if (mode === "disable") {
    if (files.length > 0) throw new ConfigurationError(`databaseUrl: ${files.join(", ")} given with sslmode=disable`);
    return false;
  }
  if (params.has("sslcert") !== params.has("sslkey")) throw new ConfigurationError("databaseUrl: sslcert and sslkey must be given together");
  const options: TlsOptions = {
    // require: encrypted, the server not authenticated (libpq's meaning).
    rejectUnauthorized: mode !== "require",
    ...(params.has("sslrootcert") ? { ca: readPem(params, "sslrootcert") } : {}),
    ...(params.has("sslcert") ? { cert: readPem(params, "sslcert"), key: readPem(params, "sslkey") } : {}),
  };
  // verify-ca: the chain must lead to the CA, the name in the certificate is not checked.
  if (mode === "verify-ca") options.checkServerIdentity = () => undefined;
  return options;
}

function readPem(params: ReadonlyMap<string, string>, name: string): string {
  try {
    return readFileSync(params.get(name)!, "utf8");
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new ConfigurationError(`databaseUrl: cannot read the ${name} file (${typeof code === "string" ? code : "unreadable"})`);
  }
}

/** A parameter name is user text: show it only when it is plainly a name. */
function safeName(name: string): string {
  return /^[a-z_][a-z0-9_]{0,40}$/i.test(name) ? name : "<unprintable>";
}

/**
 * The URL slonik's own parser gets: without TLS parameters (it drops some and refuses others);
 * TLS reaches slonik as its `ssl` option instead.
 */
export function slonikUrl(options: ConnectionOptions): string {
  const user = options.user === undefined ? "" : encodeURIComponent(options.user);
  const password = options.password === undefined ? "" : `:${encodeURIComponent(options.password)}`;
  const auth = user === "" && password === "" ? "" : `${user}${password}@`;
  // A Unix socket directory travels percent-encoded in the host part, as libpq and slonik read it
  // (an empty host with ?host= is no valid URL once a port follows).
  const host = options.host === undefined ? "" : options.host.startsWith("/") ? encodeURIComponent(options.host) : options.host.includes(":") ? `[${options.host}]` : options.host;
  const port = options.port === undefined ? "" : `:${options.port}`;
  const database = options.database === undefined ? "" : `/${encodeURIComponent(options.database)}`;
  const query = new URLSearchParams();
  if (options.applicationName !== undefined) query.set("application_name", options.applicationName);
  const search = query.size === 0 ? "" : `?${query.toString()}`;
  return `postgres://${auth}${host}${port}${database}${search}`;
}

/** The options as a node-postgres client configuration (the migration client). */
export function pgClientConfig(options: ConnectionOptions, extra: { connectionTimeoutMillis?: number } = {}) {
  return {
    host: options.host,
    port: options.port,
    user: options.user,
    password: options.password,
    database: options.database,
    ssl: options.ssl,
    ...(options.applicationName === undefined ? {} : { application_name: options.applicationName }),
    ...extra,
  };
}

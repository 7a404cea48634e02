import { ConfigurationError } from "../../core/errors.js";

/**
 * libpq fills every parameter a connection string leaves out from its environment variable
 * (https://www.postgresql.org/docs/current/libpq-envars.html), and psql and plain node-postgres
 * honour PGSSLMODE: so a URL without sslmode, in a shell with PGSSLMODE=require, must not connect in
 * plaintext (issue 22 item 5). The TLS variables we support mean what their URL parameter means;
 * the URL wins where it gives the parameter, as in libpq.
 */
const HONOURED: Readonly<Record<string, string>> = {
  PGSSLMODE: "sslmode",
  PGSSLROOTCERT: "sslrootcert",
  PGSSLCERT: "sslcert",
  PGSSLKEY: "sslkey",
};

/** TLS variables whose meaning we cannot give: refused when set, so nothing is weaker than asked. */
const REFUSED: Readonly<Record<string, { readonly harmless?: string; readonly why: string }>> = {
  PGSSLCRL: { why: "certificate revocation lists are not supported" },
  PGSSLCRLDIR: { why: "certificate revocation lists are not supported" },
  PGSSLNEGOTIATION: { harmless: "postgres", why: "only the standard TLS negotiation is supported" },
  PGSSLCERTMODE: { harmless: "allow", why: "the client certificate is sent when sslcert and sslkey are given" },
  PGSSLMINPROTOCOLVERSION: { why: "the TLS protocol versions are Node's defaults" },
  PGSSLMAXPROTOCOLVERSION: { why: "the TLS protocol versions are Node's defaults" },
  PGSSLCOMPRESSION: { harmless: "0", why: "TLS compression is never used" },
  PGSSLSNI: { harmless: "1", why: "the server name is always sent for a host name" },
};

/**
 * The URL's TLS parameters completed from the environment as libpq would: each honoured variable
 * for a parameter the URL does not give, and the deprecated PGREQUIRESSL=1 as sslmode=require when
 * neither the URL nor PGSSLMODE sets a mode.
 * @throws ConfigurationError naming a TLS variable we cannot honour, or a PGSSLMODE we refuse (never a path)
 */
export function withLibpqTlsEnvironment(params: ReadonlyMap<string, string>, sslModes: readonly string[], env: NodeJS.ProcessEnv = process.env): Map<string, string> {
  for (const [name, rule] of Object.entries(REFUSED)) {
    const value = env[name];
    if (value === undefined || value === "" || value === rule.harmless) continue;
    throw new ConfigurationError(`${name} is set in the environment and cannot be honoured (${rule.why}): unset it`);
  }
  const merged = new Map(params);
  for (const [variable, parameter] of Object.entries(HONOURED)) {
    const value = env[variable];
    if (value === undefined || value === "" || merged.has(parameter)) continue;
    if (parameter === "sslmode" && !sslModes.includes(value)) {
      throw new ConfigurationError(
        `PGSSLMODE in the environment must be one of ${sslModes.join(", ")}` + (value === "prefer" || value === "allow" ? ` ("${value}" may silently connect without TLS)` : ""),
      );
    }
    merged.set(parameter, value);
  }
  const requireSsl = env.PGREQUIRESSL;
  if (requireSsl !== undefined && requireSsl !== "" && requireSsl !== "0") {
    if (requireSsl !== "1") throw new ConfigurationError("PGREQUIRESSL is set in the environment to something other than 0 or 1: unset it or use PGSSLMODE");
    if (!merged.has("sslmode")) merged.set("sslmode", "require");
  }
  return merged;
}

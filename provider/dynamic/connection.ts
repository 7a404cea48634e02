import { IpamError } from "../core/errors.js";
import { Ipam } from "../store/Ipam.js";
import { ensureLocalDatabase } from "../store/localDatabase.js";

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

/** Remember the configured URL; nothing connects until a method needs the database. */
export function configureConnection(config: HostConfig | undefined): void {
  const url = config?.get("ipam:databaseUrl");
  configuredUrl = typeof url === "string" && url !== "" ? url : undefined;
  // Identities of databases whose data moved to this one on purpose (docs/identity.md).
  const movedFrom = config?.get("ipam:databaseMovedFrom");
  configuredMovedFrom = typeof movedFrom === "string" ? movedFrom.split(",").map((id) => id.trim()).filter((id) => id !== "") : [];
}

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
  opening ??= (async () => {
    const envUrl = process.env.IPAM_DATABASE_URL;
    const chosen: DatabaseSource = configuredUrl !== undefined ? "ipam:databaseUrl" : envUrl !== undefined && envUrl !== "" ? "IPAM_DATABASE_URL" : "embedded";
    const url = configuredUrl ?? (chosen === "IPAM_DATABASE_URL" ? envUrl! : await ensureLocalDatabase());
    const opened = await Ipam.open({ databaseUrl: url });
    source = chosen;
    return opened;
  })();
  opening.catch(() => (opening = undefined));
  return opening;
}

/**
 * Run provider work and rethrow any failure as a plain Error whose message is safe to show:
 * IpamError messages are written without secrets; anything else (driver errors quoting the
 * connection string) is replaced by its kind.
 */
export async function guarded<T>(doing: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw new Error(`ipam: ${doing}: ${safeMessage(error)}`);
  }
}

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

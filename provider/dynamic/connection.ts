import { IpamError } from "../core/errors.js";
import { Ipam } from "../store/Ipam.js";
import { ensureLocalDatabase } from "../store/localDatabase.js";

/** Raw config as the SDK host hands it to `configure` (`ipam:databaseUrl` arrives in plaintext). */
export interface HostConfig {
  get(key: string): string | undefined;
}

let configuredUrl: string | undefined;
let opening: Promise<Ipam> | undefined;

/** Remember the configured URL; nothing connects until a method needs the database. */
export function configureConnection(config: HostConfig | undefined): void {
  const url = config?.get("ipam:databaseUrl");
  configuredUrl = typeof url === "string" && url !== "" ? url : undefined;
}

/**
 * One Ipam per host process, opened lazily: configure's `ipam:databaseUrl`, else IPAM_DATABASE_URL,
 * else the local embedded database (refused under CI=true by ensureLocalDatabase).
 * @throws ConfigurationError (CI without a URL), DatabaseUnavailableError
 */
export function ipam(): Promise<Ipam> {
  opening ??= (async () => {
    const envUrl = process.env.IPAM_DATABASE_URL;
    const url = configuredUrl ?? (envUrl !== undefined && envUrl !== "" ? envUrl : await ensureLocalDatabase());
    return Ipam.open({ databaseUrl: url });
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

import pg from "pg";
import { afterAll, beforeAll, expect } from "vitest";
import { Ipam } from "../../provider/store/index.js";
import { startProviderHost, type ProviderHost, type Props } from "../../harness/providerHost.js";
import { serializedProviders } from "../../harness/serializedProviders.js";
import { createLeastPrivilegeDatabase, type LeastPrivilegeDatabase } from "./leastPrivilegeDatabase.js";

export interface ProviderTestContext {
  readonly db: LeastPrivilegeDatabase;
  /** The SDK's own host, configured with the least-privilege login's URL (as a deployer would be). */
  readonly host: ProviderHost;
  /** The core on the administrator's URL, for fixtures and for checking what the provider did. */
  readonly direct: Ipam;
  /** A plain administrator connection, for fingerprints and SQL checks. */
  readonly admin: pg.Client;
  readonly P: Awaited<ReturnType<typeof serializedProviders>>;
  /** The engine's `up` for a new resource: Check (empty olds) must pass, then Create. */
  up(urn: string, news: Props): Promise<{ id: string; properties: Props }>;
}

export interface ProviderHostOptions {
  /** The host's environment (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
  /** Fixtures to make as administrator before the host starts. */
  readonly prepare?: (context: Pick<ProviderTestContext, "db" | "direct" | "admin">) => Promise<void>;
}

/** The host's environment as CI has it: CI=true and no IPAM_DATABASE_URL, so only Configure's URL can be used. */
export function ciHostEnv(): NodeJS.ProcessEnv {
  const { IPAM_DATABASE_URL: _drop, ...env } = process.env;
  return { ...env, CI: "true" };
}

/** One host process and one least-privilege database for this test file, torn down afterwards. */
export function useProviderHost(label: string, options: ProviderHostOptions = {}): ProviderTestContext {
  const context = {
    async up(urn: string, news: Props) {
      const checked = await context.host.check(urn, {}, news);
      expect(checked.failures).toEqual([]);
      return context.host.create(urn, checked.inputs);
    },
  } as { -readonly [K in keyof ProviderTestContext]: ProviderTestContext[K] };
  beforeAll(async () => {
    context.db = await createLeastPrivilegeDatabase(label);
    context.direct = await Ipam.open({ databaseUrl: context.db.url });
    context.admin = new pg.Client({ connectionString: context.db.url });
    await context.admin.connect();
    await options.prepare?.(context);
    context.P = await serializedProviders();
    context.host = await startProviderHost(options.env ?? process.env);
    await context.host.configure({ "ipam:databaseUrl": context.db.appUrl });
  });
  afterAll(async () => {
    await context.host?.close();
    await context.admin?.end();
    await context.direct?.close();
    await context.db?.drop();
  });
  return context;
}

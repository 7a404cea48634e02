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
  readonly P: Awaited<ReturnType<typeof serializedProviders>>;
  /** The engine's `up` for a new resource: Check (empty olds) must pass, then Create. */
  up(urn: string, news: Props): Promise<{ id: string; properties: Props }>;
}

/** One host process and one least-privilege database for this test file, torn down afterwards. */
export function useProviderHost(label: string, env: NodeJS.ProcessEnv = process.env): ProviderTestContext {
  const context = {
    async up(urn: string, news: Props) {
      const checked = await context.host.check(urn, {}, news);
      expect(checked.failures).toEqual([]);
      return context.host.create(urn, checked.inputs);
    },
  } as { -readonly [K in keyof ProviderTestContext]: ProviderTestContext[K] };
  beforeAll(async () => {
    context.db = await createLeastPrivilegeDatabase(label);
    context.P = await serializedProviders();
    context.host = await startProviderHost(env);
    await context.host.configure({ "ipam:databaseUrl": context.db.appUrl });
    context.direct = await Ipam.open({ databaseUrl: context.db.url });
  });
  afterAll(async () => {
    await context.host?.close();
    await context.direct?.close();
    await context.db?.drop();
  });
  return context;
}

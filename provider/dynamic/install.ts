import { configureConnection, type HostConfig } from "./connection.js";
import * as allocation from "./allocationProvider.js";
import * as subnet from "./subnetProvider.js";

const KINDS = { subnet, allocation } as const;

/** What the SDK host hands a provider's `configure`. */
export interface ConfigureRequest {
  readonly config?: HostConfig;
}

/**
 * What the `__provider` text of this release calls once it has loaded this package in the SDK host
 * (sdk/implementation.ts): put one kind's methods on the provider object the host deserialized and
 * cached, then configure the connection. The methods are set here rather than serialized, so the
 * text stored in every resource's state stays short (docs/identity.md). Like `configureConnection`,
 * `subnet` and `allocation`, this export is a contract with texts already in users' state.
 *
 * @throws Error for a kind this release does not serve (the text then leaves every method failing with it).
 */
export function install(provider: Record<string, unknown>, kind: string, request: ConfigureRequest | undefined): void {
  const methods = Object.hasOwn(KINDS, kind) ? KINDS[kind as keyof typeof KINDS] : undefined;
  if (methods === undefined) throw new Error(`ipam: the serialized provider names kind ${JSON.stringify(kind)}, which this pulumi-ipam does not serve (subnet, allocation)`);
  Object.assign(provider, { check: methods.check, diff: methods.diff, create: methods.create, read: methods.read, update: methods.update, delete: methods.remove });
  configureConnection(request?.config);
}

import { expect } from "vitest";
import type { ProviderHost, Props } from "../../harness/providerHost.js";
import type { Ipam } from "../../provider/store/index.js";

interface Made {
  readonly urn: string;
  readonly id: string;
  readonly properties: Props;
}

/**
 * The engine after an upgrade, for a subnet and an allocation made through one `__provider` text:
 * Read, Update and Delete run with `stored` in their state (the SDK host's `getProvider(props)`),
 * while Diff and Update's new inputs carry the program's text (`news`). Checks the refresh reads the
 * allocation, a count change is an update in place that takes effect, and both deletes reach the
 * database.
 */
export async function serveThroughStoredText(host: ProviderHost, direct: Ipam, stored: { subnet: string; allocation: string }, net: Made, alloc: Made, news: (p: Props) => Props): Promise<void> {
  const asStored = (props: Props) => ({ ...props, __provider: stored.allocation });
  const read = await host.read(alloc.urn, alloc.id, asStored(alloc.properties), asStored(alloc.properties));
  expect(read.properties.addresses).toEqual(alloc.properties.addresses);
  expect(await host.diff(alloc.urn, alloc.id, asStored(alloc.properties), news({ count: 2 }))).toMatchObject({ changes: 2, replaces: [] });
  const updated = await host.update(alloc.urn, alloc.id, asStored(alloc.properties), news({ count: 2 }));
  expect(updated.properties.addresses).toHaveLength(2);
  await host.delete(alloc.urn, alloc.id, asStored(updated.properties));
  expect((await direct.listAllocations({ subnetId: net.id })).allocations).toEqual([]);
  await host.delete(net.urn, net.id, { ...net.properties, __provider: stored.subnet });
  expect((await direct.listSubnets()).map((s) => s.id)).not.toContain(net.id);
}

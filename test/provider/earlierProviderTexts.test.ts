import { describe, expect, it } from "vitest";
import { startProviderHost, urnOf, type ProviderHost, type Props } from "../../harness/providerHost.js";
import { EARLIER_PROVIDER_TEXTS, earlierProviderText, type EarlierRelease } from "../helpers/earlierProviderTexts.js";
import { ciHostEnv, useProviderHost } from "../helpers/providerTestContext.js";
import { serveThroughStoredText } from "../helpers/storedProviderText.js";

const context = useProviderHost("provtexts", { env: ciHostEnv() });

async function up(host: ProviderHost, urn: string, news: Props) {
  const checked = await host.check(urn, {}, news);
  expect(checked.failures).toEqual([]);
  return host.create(urn, checked.inputs);
}

/**
 * The engine after an upgrade: Check, Diff, Create and Update run this release's text (the program's),
 * Read and Delete the text stored in state (cmd/dynamic-provider: `getProvider(news)` for the first,
 * `getProvider(props)` for the others), both in one host process. Either text may be the first to load
 * the package; the other finds it on the shared global.
 */
describe("__provider texts stored by earlier releases beside this release's", () => {
  const releases = Object.keys(EARLIER_PROVIDER_TEXTS) as EarlierRelease[];
  releases.forEach((release, i) => {
    for (const first of ["earlier", "current"] as const) {
      it(`${release} (${EARLIER_PROVIDER_TEXTS[release]}), ${first} text loading the package: create, read, update and delete each way`, async () => {
        const earlier = { subnet: earlierProviderText(release, "subnet"), allocation: earlierProviderText(release, "allocation") };
        const current = { subnet: context.P.subnet, allocation: context.P.allocation };
        const [made, stored] = first === "earlier" ? [earlier, current] : [current, earlier];
        const host = await startProviderHost(ciHostEnv());
        try {
          await host.configure({ "ipam:databaseUrl": context.db.appUrl });
          const tag = `${release}-${first}`;
          const netUrn = urnOf("ipam:Subnet", `net-${tag}`);
          const net = await up(host, netUrn, { __provider: made.subnet, __owner: context.P.ownerOf(`net-${tag}`), cidr: `10.${i}.${first === "earlier" ? 0 : 1}.0/24` });
          const allocUrn = urnOf("ipam:IpAllocation", `web-${tag}`);
          const news = (p: Props) => ({ __provider: made.allocation, __owner: context.P.ownerOf(`web-${tag}`), subnetId: net.id, ...p });
          const alloc = await up(host, allocUrn, news({ count: 1 }));
          expect(alloc.properties.addresses).toHaveLength(1);

          // Refresh and destroy run the other text, as state written by it would make them.
          await serveThroughStoredText(host, context.direct, stored, { urn: netUrn, ...net }, { urn: allocUrn, ...alloc }, news);
        } finally {
          await host.close();
        }
      });
    }
  });
});

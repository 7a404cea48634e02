import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ipam } from "../../provider/store/index.js";
import { startProviderHost, urnOf, type ProviderHost } from "../../harness/providerHost.js";
import { serializedProviders } from "../../harness/serializedProviders.js";
import { createLeastPrivilegeDatabase, type LeastPrivilegeDatabase } from "../helpers/leastPrivilegeDatabase.js";

const STACKS = 8;
const PER_STACK = 4;
let db: LeastPrivilegeDatabase;
let hosts: ProviderHost[] = [];

beforeAll(async () => {
  db = await createLeastPrivilegeDatabase("provconc");
  hosts = await Promise.all(Array.from({ length: STACKS }, () => startProviderHost()));
  await Promise.all(hosts.map((h) => h.configure({ "ipam:databaseUrl": db.appUrl })));
});
afterAll(async () => {
  await Promise.all(hosts.map((h) => h.close()));
  await db?.drop();
});

describe("eight CI stacks (eight host processes) allocating from one subnet at once", () => {
  it("hands out distinct addresses to every stack", async () => {
    const P = await serializedProviders();
    const subnet = await hosts[0]!.create(urnOf("ipam:Subnet", "net"), { __provider: P.subnet, cidr: "10.9.0.0/25" });
    for (const strategy of ["sequential", "random"]) {
      const results = await Promise.all(
        hosts.map(async (host, i) => {
          const props = { __provider: P.allocation, __owner: `app/ci-${i}/web-${strategy}`, subnetId: subnet.id, count: PER_STACK, strategy };
          const urn = urnOf("ipam:IpAllocation", "web", `ci-${i}`);
          const checked = await host.check(urn, {}, props);
          return host.create(urn, checked.inputs);
        }),
      );
      const addresses = results.flatMap((r) => r.properties.addresses as string[]);
      expect(addresses).toHaveLength(STACKS * PER_STACK);
      expect(new Set(addresses).size).toBe(STACKS * PER_STACK);
    }
    const direct = await Ipam.open({ databaseUrl: db.url });
    try {
      const { allocations } = await direct.listAllocations({ subnetId: subnet.id });
      expect(allocations).toHaveLength(STACKS * 2);
      expect(new Set(allocations.map((a) => a.owner)).size).toBe(STACKS * 2);
    } finally {
      await direct.close();
    }
  });
});

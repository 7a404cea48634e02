import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ipam } from "../../provider/store/index.js";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.js";

let db: TestDatabase;
let ipam: Ipam;
beforeAll(async () => {
  db = await createTestDatabase("smoke");
  ipam = await Ipam.open({ databaseUrl: db.url });
});
afterAll(async () => {
  await ipam?.close();
  await db?.drop();
});

describe("smoke", () => {
  it("creates, allocates, releases", async () => {
    const subnet = await ipam.createSubnet({ cidr: "10.0.0.0/29", gateway: "10.0.0.1" });
    expect(subnet.allocationPools).toEqual([{ start: "10.0.0.2", end: "10.0.0.6" }]);
    const a = await ipam.allocate({ subnetId: subnet.id, owner: "o" });
    expect(a.allocation.addresses).toEqual(["10.0.0.2"]);
    const b = await ipam.allocate({ subnetId: subnet.id, owner: "o", count: 2 });
    expect(b.allocation.addresses).toEqual(["10.0.0.3", "10.0.0.4"]);
    const r = await ipam.allocate({ subnetId: subnet.id, owner: "o", strategy: "random" });
    expect(["10.0.0.5", "10.0.0.6"]).toContain(r.allocation.addresses[0]);
    const s = await ipam.allocate({ subnetId: subnet.id, owner: "o", address: "10.0.0.7" }).catch((e) => e);
    expect(s.code).toBe("INVALID_INPUT");
    await ipam.release(a.allocation.id);
    expect((await ipam.usage(subnet.id))).toMatchObject({ allocated: "3", free: "2" });
    const v6 = await ipam.createSubnet({ cidr: "2001:db8::/64" });
    const x = await ipam.allocate({ subnetId: v6.id, owner: "o", strategy: "random", count: 3 });
    expect(x.allocation.addresses).toHaveLength(3);
    const y = await ipam.allocate({ subnetId: v6.id, owner: "o", address: "2001:db8::ffff:1" });
    expect(y.allocation.addresses).toEqual(["2001:db8::ffff:1"]);
  });
});

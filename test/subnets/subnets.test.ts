import { describe, expect, it } from "vitest";
import { useTestIpam } from "../helpers/openTestIpam.js";
import { failure } from "../helpers/failure.js";
import { freeIndexComparison } from "../helpers/freeIndex.js";
import pg from "pg";

const context = useTestIpam("subnets");

async function countRows(url: string, table: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query(`SELECT count(*) FROM ipam.${table}`)).rows[0].count);
  } finally {
    await client.end();
  }
}

describe("subnets", () => {
  it("creates IPv4 and IPv6 subnets with canonical fields and decimal sizes", async () => {
    const { ipam } = context;
    const v4 = await ipam.createSubnet({ cidr: "172.16.0.0/20", namespace: "create", gateway: "172.16.0.1", description: "core", tags: { team: "net" } });
    expect(v4).toMatchObject({
      namespace: "create",
      cidr: "172.16.0.0/20",
      ipVersion: 4,
      gateway: "172.16.0.1",
      allocationPools: [{ start: "172.16.0.2", end: "172.16.15.254" }],
      allocationPoolsExplicit: false,
      size: "4096",
      tags: { team: "net" },
    });
    const v6 = await ipam.createSubnet({ cidr: "2001:DB8:0:1::/64", namespace: "create" });
    expect(v6).toMatchObject({ cidr: "2001:db8:0:1::/64", ipVersion: 6, size: "18446744073709551616", namespace: "create" });
    expect(await ipam.getSubnet(v6.id)).toEqual(v6);
  });

  it("refuses host bits without writing anything", async () => {
    const before = await countRows(context.db.url, "subnet");
    const error = await failure(context.ipam.createSubnet({ cidr: "10.1.1.1/24" }));
    expect(error.code).toBe("INVALID_INPUT");
    expect(error.message).toBe("cidr: 10.1.1.1/24 has host bits set; the network is 10.1.1.0/24");
    expect(await countRows(context.db.url, "subnet")).toBe(before);
  });

  it("refuses unknown fields and wrong types, naming each", async () => {
    const error = await failure(context.ipam.createSubnet({ cidr: "10.1.0.0/24", tags: { a: 1 }, colour: "red" } as never));
    expect(error.code).toBe("INVALID_INPUT");
    expect(error.message).toContain("tags.a:");
    expect(error.message).toContain('unknown field "colour"');
  });

  it("never overlaps inside a namespace (the database refuses), but may across namespaces", async () => {
    const { ipam } = context;
    const first = await ipam.createSubnet({ cidr: "10.50.0.0/16", namespace: "blue" });
    const error = await failure(ipam.createSubnet({ cidr: "10.50.128.0/24", namespace: "blue" }));
    expect(error.code).toBe("OVERLAP");
    expect(error.message).toContain(`subnet ${first.id} (10.50.0.0/16)`);
    await expect(ipam.createSubnet({ cidr: "10.50.128.0/24", namespace: "green" })).resolves.toMatchObject({ namespace: "green" });
    // Different families never overlap.
    await expect(ipam.createSubnet({ cidr: "2001:db8:50::/48", namespace: "blue" })).resolves.toMatchObject({ ipVersion: 6 });
  });

  it("updates pools while addresses are in use, reporting allocations left outside", async () => {
    const { ipam } = context;
    const subnet = await ipam.createSubnet({ cidr: "10.60.0.0/24", namespace: "update", allocationPools: [{ start: "10.60.0.10", end: "10.60.0.19" }] });
    const taken = await ipam.allocate({ subnetId: subnet.id, owner: "t", count: 4 });
    expect(taken.allocation.addresses).toEqual(["10.60.0.10", "10.60.0.11", "10.60.0.12", "10.60.0.13"]);
    const result = await ipam.updateSubnet(subnet.id, { allocationPools: [{ start: "10.60.0.12", end: "10.60.0.30" }], description: "moved" });
    expect(result.allocationsOutsidePools).toEqual(["10.60.0.10", "10.60.0.11"]);
    expect(result.subnet).toMatchObject({ description: "moved", allocationPools: [{ start: "10.60.0.12", end: "10.60.0.30" }] });
    const next = await ipam.allocate({ subnetId: subnet.id, owner: "t" });
    expect(next.allocation.addresses).toEqual(["10.60.0.14"]);
    expect(await ipam.usage(subnet.id)).toMatchObject({ allocated: "5", outsidePool: "2", poolSize: "19", free: "16" });
    // A released address outside the new pools is not handed out again.
    await ipam.resizeAllocation({ allocationId: taken.allocation.id, count: 1 });
    const { stored, expected } = await freeIndexComparison(context.db.url, (await ipam.getSubnet(subnet.id)));
    expect(stored).toEqual(expected);
    // Restoring the default pool.
    const restored = await ipam.updateSubnet(subnet.id, { allocationPools: null });
    expect(restored.subnet.allocationPools).toEqual([{ start: "10.60.0.1", end: "10.60.0.254" }]);
    expect(restored.allocationsOutsidePools).toEqual([]);
  });

  it("refuses a gateway or reserved range over allocated addresses, naming them, and changes nothing", async () => {
    const { ipam } = context;
    const subnet = await ipam.createSubnet({ cidr: "10.61.0.0/28", namespace: "update" });
    await ipam.allocate({ subnetId: subnet.id, owner: "t", count: 3 });
    const gateway = await failure(ipam.updateSubnet(subnet.id, { gateway: "10.61.0.2" }));
    expect(gateway.code).toBe("CONFLICT");
    expect(gateway.message).toContain("10.61.0.2");
    const reserved = await failure(ipam.updateSubnet(subnet.id, { reserved: ["10.61.0.0/30"] }));
    expect(reserved.code).toBe("CONFLICT");
    expect(reserved.message).toContain("10.61.0.1, 10.61.0.2, 10.61.0.3");
    expect(await ipam.getSubnet(subnet.id)).toEqual(subnet);
  });

  it("refuses to remove a subnet with allocations, naming them; removes it once released", async () => {
    const { ipam } = context;
    const subnet = await ipam.createSubnet({ cidr: "10.62.0.0/28", namespace: "delete" });
    const a = await ipam.allocate({ subnetId: subnet.id, owner: "stack-a/web" });
    const b = await ipam.allocate({ subnetId: subnet.id, owner: "stack-b/db", count: 2 });
    const error = await failure(ipam.deleteSubnet(subnet.id));
    expect(error.code).toBe("SUBNET_IN_USE");
    expect(error.message).toBe(`subnet ${subnet.id} still has 2 allocations (first: 10.62.0.1 (stack-a/web), 10.62.0.2 (stack-b/db)); release them first`);
    await ipam.release(a.allocation.id);
    await ipam.release(b.allocation.id);
    expect(await ipam.deleteSubnet(subnet.id)).toEqual({ deleted: true });
    expect((await failure(ipam.getSubnet(subnet.id))).code).toBe("NOT_FOUND");
    expect(await ipam.deleteSubnet(subnet.id)).toEqual({ deleted: false });
  });

  it("lists by namespace and reports usage as decimal strings for IPv6", async () => {
    const { ipam } = context;
    const subnet = await ipam.createSubnet({ cidr: "2001:db8:77::/64", namespace: "usage", gateway: "2001:db8:77::1", reserved: ["2001:db8:77::/120"] });
    await ipam.allocate({ subnetId: subnet.id, owner: "u", count: 10 });
    expect(await ipam.usage(subnet.id)).toEqual({
      subnetId: subnet.id,
      cidr: "2001:db8:77::/64",
      total: "18446744073709551616",
      poolSize: (2n ** 64n - 256n).toString(),
      allocated: "10",
      free: (2n ** 64n - 256n - 10n).toString(),
      outsidePool: "0",
      held: "0",
      childPrefixes: 0,
      childAddresses: "0",
      childSpaceFree: (2n ** 64n - 256n - 10n).toString(),
    });
    expect((await ipam.listSubnets({ namespace: "usage" })).map((s) => s.cidr)).toEqual(["2001:db8:77::/64"]);
    expect((await failure(ipam.listSubnets({ namespace: "no spaces" }))).message).toContain("namespace:");
  });
});

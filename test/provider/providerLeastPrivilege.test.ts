import pg from "pg";
import { describe, expect, it } from "vitest";
import { checkInvariants } from "../helpers/invariants.js";
import { ciHostEnv, useProviderHost } from "../helpers/providerTestContext.js";
import { urnOf, type Props } from "../../harness/providerHost.js";

const context = useProviderHost("provleastpriv", { env: ciHostEnv(), prepare: async ({ admin }) => void (await admin.query("CREATE SCHEMA other; CREATE TABLE other.secret (value text); CREATE TABLE public.unrelated (value text)")) });

const subnetUrn = urnOf("ipam:Subnet", "net");
const subnetProps = (p: Props) => ({ __provider: context.P.subnet, ...p });
const allocProps = (name: string, p: Props) => ({ __provider: context.P.allocation, __owner: context.P.ownerOf(name), ...p });

const { up } = context;

async function asApp<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: context.db.appUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

describe("the provider context.host, configured with a login that only inherits ipam_app", () => {
  it("runs a full lifecycle: subnet, four kinds of allocation, resize, tags, refresh, pools, destroy", async () => {
    const subnet = await up(subnetUrn, subnetProps({ cidr: "10.60.0.0/24", gateway: "10.60.0.1", tags: { env: "test" } }));
    expect(subnet.properties).toMatchObject({ subnetId: subnet.id, size: "256", gateway: "10.60.0.1" });

    const seq = await up(urnOf("ipam:IpAllocation", "seq"), allocProps("seq", { subnetId: subnet.id }));
    expect(seq.properties.addresses).toEqual(["10.60.0.2"]);
    const random = await up(urnOf("ipam:IpAllocation", "rnd"), allocProps("rnd", { subnetId: subnet.id, strategy: "random" }));
    expect(random.properties.addresses).toHaveLength(1);
    const specific = await up(urnOf("ipam:IpAllocation", "db"), allocProps("db", { subnetId: subnet.id, address: "10.60.0.200" }));
    expect(specific.properties.addresses).toEqual(["10.60.0.200"]);
    const bulkUrn = urnOf("ipam:IpAllocation", "bulk");
    const bulk = await up(bulkUrn, allocProps("bulk", { subnetId: subnet.id, count: 3 }));
    expect(bulk.properties.addresses).toHaveLength(3);
    const all = [seq, random, specific, bulk].flatMap((a) => a.properties.addresses as string[]);
    expect(new Set(all).size).toBe(6);

    // Count up keeps the addresses and adds; count down releases the highest; tags change in place.
    const grown = await context.host.update(bulkUrn, bulk.id, bulk.properties, allocProps("bulk", { subnetId: subnet.id, count: 5 }));
    expect((grown.properties.addresses as string[]).slice(0, 3)).toEqual(bulk.properties.addresses);
    expect(grown.properties.addresses).toHaveLength(5);
    const shrunk = await context.host.update(bulkUrn, bulk.id, grown.properties, allocProps("bulk", { subnetId: subnet.id, count: 2, tags: { role: "nodes" } }));
    expect(shrunk.properties).toMatchObject({ addresses: (bulk.properties.addresses as string[]).slice(0, 2), tags: { role: "nodes" } });

    // Refresh reads back what was stored.
    const refreshed = await context.host.read(bulkUrn, bulk.id, shrunk.properties, shrunk.properties);
    expect(refreshed).toMatchObject({ id: bulk.id, properties: { addresses: shrunk.properties.addresses, tags: { role: "nodes" } } });
    const refreshedSubnet = await context.host.read(subnetUrn, subnet.id, subnet.properties, subnet.properties);
    expect(refreshedSubnet.properties).toMatchObject({ cidr: "10.60.0.0/24", tags: { env: "test" } });

    // Pool update on the subnet (every allocation lies inside the new pool).
    const pools = [{ start: "10.60.0.2", end: "10.60.0.220" }];
    const pooled = await context.host.update(subnetUrn, subnet.id, subnet.properties, subnetProps({ cidr: "10.60.0.0/24", gateway: "10.60.0.1", tags: { env: "test" }, allocationPools: pools }));
    expect(pooled.properties.allocationPools).toEqual(pools);

    // Destroy: allocations, then the subnet.
    for (const [name, a] of [["seq", seq], ["rnd", random], ["db", specific], ["bulk", { id: bulk.id, properties: shrunk.properties }]] as const) {
      await context.host.delete(urnOf("ipam:IpAllocation", name), a.id, a.properties);
    }
    await context.host.delete(subnetUrn, subnet.id, pooled.properties);
    const left = await context.admin.query("SELECT (SELECT count(*) FROM ipam.subnet)::int AS subnets, (SELECT count(*) FROM ipam.allocation)::int AS allocations");
    expect(left.rows[0]).toEqual({ subnets: 0, allocations: 0 });
    expect((await checkInvariants(context.db.url)).violations).toEqual([]);
  });

  it("the host really connects as that login: without the role's grants it is refused", async () => {
    const audit = await context.admin.query<{ action: string }>("SELECT DISTINCT action FROM ipam.audit_event ORDER BY action");
    expect(audit.rows.map((row) => row.action)).toEqual(["allocate", "allocation.update", "grow", "release", "shrink", "subnet.create", "subnet.delete", "subnet.update"]);
    const login = context.admin.escapeIdentifier(context.db.login);
    await context.admin.query(`REVOKE ipam_app FROM ${login}`);
    try {
      const error = await context.host.create(subnetUrn, subnetProps({ cidr: "10.61.0.0/24" })).catch((e: unknown) => e);
      expect((error as Error).message).toMatch(/ipam: creating a subnet: .*permission denied for schema ipam \(DATABASE_ERROR\)/);
      expect((error as Error).message).not.toContain(context.db.password);
    } finally {
      await context.admin.query(`GRANT ipam_app TO ${login}`);
    }
    expect(await context.host.create(subnetUrn, subnetProps({ cidr: "10.61.0.0/24" }))).toMatchObject({ properties: { cidr: "10.61.0.0/24" } });
  });

  it.each([
    ["create a table in the ipam schema", "CREATE TABLE ipam.extra (id int)"],
    ["create a table in public", "CREATE TABLE public.extra (id int)"],
    ["drop an IPAM table", "DROP TABLE ipam.allocation"],
    ["read another schema", "SELECT * FROM other.secret"],
    ["read a table in public", "SELECT * FROM public.unrelated"],
  ])("the same login cannot %s", async (_, statement) => {
    const error = await asApp((client) => client.query(statement)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "42501" });
  });
});

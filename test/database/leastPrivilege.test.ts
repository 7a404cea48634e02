import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ipam } from "../../provider/store/index.js";
import { checkInvariants } from "../helpers/invariants.js";
import { createLeastPrivilegeDatabase, type LeastPrivilegeDatabase } from "../helpers/leastPrivilegeDatabase.js";

let db: LeastPrivilegeDatabase;
let admin: pg.Client;
let appUrl: string;

beforeAll(async () => {
  // As the README says: the administrator migrates, applies ipam_app.sql and creates a deployer login
  // IN ROLE ipam_app (unique per run, dropped with the database). Everything below runs as that login.
  db = await createLeastPrivilegeDatabase("leastpriv");
  appUrl = db.appUrl;
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  await admin.query("CREATE SCHEMA other; CREATE TABLE other.secret (value text); INSERT INTO other.secret VALUES ('s'); CREATE TABLE public.unrelated (value text)");
});
afterAll(async () => {
  await admin?.end();
  await db?.drop();
});

async function asApp<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: appUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

describe("least privilege: the documented ipam_app role", () => {
  it("runs the whole allocation core, opening with default options (no DDL when nothing is pending)", async () => {
    const ipam = await Ipam.open({ databaseUrl: appUrl });
    try {
      const subnet = await ipam.createSubnet({ cidr: "10.40.0.0/24", namespace: "app", gateway: "10.40.0.1", reserved: ["10.40.0.200/29"], tags: { team: "net" } });
      const next = await ipam.allocate({ subnetId: subnet.id, owner: "app/web", idempotencyKey: "app/web" });
      expect(next.allocation.addresses).toEqual(["10.40.0.2"]);
      expect((await ipam.allocate({ subnetId: subnet.id, owner: "app/web", idempotencyKey: "app/web" })).created).toBe(false);
      await ipam.allocate({ subnetId: subnet.id, owner: "app/db", address: "10.40.0.50" });
      await ipam.allocate({ subnetId: subnet.id, owner: "app/random", strategy: "random" });
      const bulk = await ipam.allocate({ subnetId: subnet.id, owner: "app/k8s", count: 8 });
      await ipam.resizeAllocation({ allocationId: bulk.allocation.id, count: 3 });
      await ipam.resizeAllocation({ allocationId: bulk.allocation.id, count: 5 });
      await ipam.updateAllocation({ allocationId: bulk.allocation.id, description: "nodes" });
      await ipam.updateSubnet(subnet.id, { allocationPools: [{ start: "10.40.0.2", end: "10.40.0.150" }] });
      expect((await ipam.whoHolds(subnet.id, "10.40.0.50"))?.owner).toBe("app/db");
      expect((await ipam.listAllocations({ subnetId: subnet.id })).allocations).toHaveLength(4);
      expect((await ipam.listSubnets({ namespace: "app" })).map((s) => s.id)).toEqual([subnet.id]);
      expect(await ipam.usage(subnet.id)).toMatchObject({ allocated: "8" });
      await expect(ipam.allocate({ subnetId: subnet.id, owner: "x", address: "10.40.0.50" })).rejects.toMatchObject({ code: "ADDRESS_IN_USE" });
      for (const allocation of (await ipam.listAllocations({ subnetId: subnet.id })).allocations) await ipam.release(allocation.id);
      expect(await ipam.deleteSubnet(subnet.id)).toEqual({ deleted: true });
      expect(await ipam.findAllocationByKey(subnet.id, "app/web")).toBeNull();
    } finally {
      await ipam.close();
    }
    expect((await checkInvariants(db.url)).violations).toEqual([]);
    const audit = await admin.query<{ action: string }>("SELECT DISTINCT action FROM ipam.audit_event ORDER BY action");
    expect(audit.rows.map((row) => row.action)).toEqual(["allocate", "allocation.update", "grow", "release", "shrink", "subnet.create", "subnet.delete", "subnet.update"]);
  });

  it("carves and returns child subnets (free_block, inet_to_ordinal) with the same role", async () => {
    const ipam = await Ipam.open({ databaseUrl: appUrl });
    try {
      const parent = await ipam.createSubnet({ cidr: "10.41.0.0/16", namespace: "app", childrenOnly: true, defaultPrefixLength: 24 });
      const child = await ipam.createSubnet({ parentId: parent.id });
      await ipam.createSubnet({ parentId: parent.id, cidr: "10.41.9.0/24" });
      await ipam.updateSubnet(parent.id, { reserved: ["10.41.255.0/24"] });
      expect((await ipam.createSubnet({ parentId: parent.id, prefixLength: 20, strategy: "best-fit" })).cidr).toBe("10.41.16.0/20");
      expect(await ipam.deleteSubnet(child.id)).toEqual({ deleted: true });
      expect(await ipam.usage(parent.id)).toMatchObject({ childPrefixes: 2 });
    } finally {
      await ipam.close();
    }
    expect((await checkInvariants(db.url)).violations).toEqual([]);
  });

  it.each([
    ["create a table in the ipam schema", "CREATE TABLE ipam.extra (id int)"],
    ["create a table in public", "CREATE TABLE public.extra (id int)"],
    ["create a schema", "CREATE SCHEMA mine"],
    ["drop an IPAM table", "DROP TABLE ipam.free_range"],
    ["alter an IPAM table", "ALTER TABLE ipam.allocation DROP CONSTRAINT allocation_idempotency_key"],
    ["truncate allocations", "TRUNCATE ipam.allocation CASCADE"],
    ["rewrite history", "UPDATE ipam.audit_event SET owner = 'someone else'"],
    ["erase history", "DELETE FROM ipam.audit_event"],
    ["record a fake migration", "INSERT INTO ipam.schema_migration (version, name) VALUES (999, 'fake')"],
    ["change the database's identity", "UPDATE ipam.installation SET id = gen_random_uuid()"],
    ["add a second identity", "INSERT INTO ipam.installation (singleton) VALUES (true)"],
    ["read another schema", "SELECT * FROM other.secret"],
    ["read an unrelated table in public", "SELECT * FROM public.unrelated"],
    ["become the administrator", "SET ROLE postgres"],
  ])("cannot %s", async (_, statement) => {
    const error = await asApp((client) => client.query(statement)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "42501" });
  });

  it("a pending migration is refused with a message that says what to do, and nothing changes", async () => {
    await admin.query("DELETE FROM ipam.schema_migration WHERE version = 1");
    try {
      const error = await Ipam.open({ databaseUrl: appUrl }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "DATABASE_ERROR" });
      expect((error as Error).message).toMatch(/may not apply the pending migrations.*schema owner.*ipam_app\.sql/);
      expect((error as Error).message).not.toContain(db.password);
    } finally {
      await admin.query("INSERT INTO ipam.schema_migration (version, name) VALUES (1, 'initial')");
    }
  });
});

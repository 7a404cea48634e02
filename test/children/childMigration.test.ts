import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import fc from "fast-check";
import { formatAddress, parseAddress } from "../../provider/core/address.js";
import { Ipam, loadMigrations, migrate } from "../../provider/store/index.js";
import { childIndexComparison } from "../helpers/childIndex.js";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.js";

/**
 * A database as pulumi-ipam left it with only migration 0001: written here with 0001's own SQL and
 * the rows 0001's code wrote (including what its snapshot import allowed: a child subnet whose block
 * was still in its parent's free ranges, and a parent address inside that child).
 */
let db: TestDatabase;
let client: pg.Client;
const ordinal = (address: string) => parseAddress(address, "a").value.toString();

beforeAll(async () => {
  db = await createTestDatabase("migrate2");
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const [initial] = await loadMigrations();
  expect(initial!.version).toBe(1);
  await client.query("BEGIN");
  await client.query("CREATE SCHEMA ipam");
  await client.query("SET LOCAL search_path TO ipam");
  await client.query("CREATE TABLE schema_migration (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
  await client.query("INSERT INTO schema_migration (version, name) VALUES (1, 'initial')");
  await client.query(initial!.sql);
  await client.query("INSERT INTO namespace (name) VALUES ('legacy')");
  const subnet = (cidr: string, parent: number | null, pools: string) =>
    client.query(`INSERT INTO subnet (namespace_id, parent_id, cidr, pools, pools_explicit) VALUES (1, $1, $2, $3, false)`, [parent, cidr, pools]);
  await subnet("10.9.0.0/16", null, JSON.stringify([{ start: "10.9.0.1", end: "10.9.255.254" }]));
  await subnet("10.9.1.0/24", 1, JSON.stringify([{ start: "10.9.1.1", end: "10.9.1.254" }]));
  await subnet("2001:db8:9::/64", null, JSON.stringify([{ start: "2001:db8:9::1", end: "2001:db8:9::ffff:ffff:ffff:ffff" }]));
  const allocate = async (subnetId: number, owner: string, address: string, strategy: string) => {
    const { rows } = await client.query(`INSERT INTO allocation (subnet_id, owner, strategy, requested_address) VALUES ($1, $2, $3, $4) RETURNING id`, [
      subnetId, owner, strategy, strategy === "specific" ? address : null,
    ]);
    await client.query(`INSERT INTO allocated_address (subnet_id, address, ordinal, allocation_id) VALUES ($1, $2, $3, $4)`, [subnetId, address, ordinal(address), rows[0].id]);
    await client.query(`INSERT INTO audit_event (action, subnet_id, allocation_id, owner, addresses) VALUES ('allocate', $1, $2, $3, ARRAY[$4::inet])`, [subnetId, rows[0].id, owner, address]);
  };
  await allocate(1, "old-app", "10.9.200.5", "specific");
  await allocate(1, "legacy-overlap", "10.9.1.200", "specific");
  await allocate(2, "child-app", "10.9.1.10", "sequential");
  await allocate(3, "v6-app", "2001:db8:9::5", "specific");
  const free = (subnetId: number, first: string, last: string) =>
    client.query(`INSERT INTO free_range (subnet_id, first_ordinal, last_ordinal) VALUES ($1, $2, $3)`, [subnetId, ordinal(first), ordinal(last)]);
  // 0001's import rebuilt the parent's free ranges before its children existed: they cover 10.9.1.0/24.
  await free(1, "10.9.0.1", "10.9.1.199");
  await free(1, "10.9.1.201", "10.9.200.4");
  await free(1, "10.9.200.6", "10.9.255.254");
  await free(2, "10.9.1.1", "10.9.1.9");
  await free(2, "10.9.1.11", "10.9.1.254");
  await free(3, "2001:db8:9::1", "2001:db8:9::4");
  await free(3, "2001:db8:9::6", "2001:db8:9::ffff:ffff:ffff:ffff");
  await client.query("COMMIT");
});
afterAll(async () => {
  await client?.end();
  await db?.drop();
});

const rowsOf = async (query: string) => (await client.query(query)).rows;
const freeRanges = async (subnetId: number) =>
  (await rowsOf(`SELECT first_ordinal::text AS f, last_ordinal::text AS l FROM ipam.free_range WHERE subnet_id = ${subnetId} ORDER BY first_ordinal`)).map(
    (row) => `${formatAddress(subnetId === 3 ? 6 : 4, BigInt(row.f))}-${formatAddress(subnetId === 3 ? 6 : 4, BigInt(row.l))}`,
  );

describe("migration 0002 on a database holding 0001 data", () => {
  it("adds child subnets without losing or changing any row, and cuts legacy children out of their parents' free ranges", async () => {
    const subnetsBefore = await rowsOf("SELECT * FROM ipam.subnet ORDER BY id");
    const allocationsBefore = await rowsOf("SELECT * FROM ipam.allocation ORDER BY id");
    const addressesBefore = await rowsOf("SELECT * FROM ipam.allocated_address ORDER BY subnet_id, ordinal");
    const auditBefore = await rowsOf("SELECT * FROM ipam.audit_event ORDER BY id");
    const childRangesBefore = [await freeRanges(2), await freeRanges(3)];

    const ran = await migrate(db.url, "ipam");
    expect(ran).toContain("0002_child_subnets");
    expect(ran).not.toContain("0001_initial");
    expect(await migrate(db.url, "ipam")).toEqual([]);

    const subnetsAfter = await rowsOf("SELECT * FROM ipam.subnet ORDER BY id");
    expect(subnetsAfter.map((row) => Object.fromEntries(Object.keys(subnetsBefore[0]).map((key) => [key, row[key]])))).toEqual(subnetsBefore);
    for (const row of subnetsAfter) {
      expect(row).toMatchObject({ children_only: false, min_prefix_length: null, max_prefix_length: null, default_prefix_length: null, idempotency_key: null, free_blocks_built: false });
    }
    // Later migrations (0004 claims) add columns with NULL; every column that was there is unchanged.
    const allocationsAfter = await rowsOf("SELECT * FROM ipam.allocation ORDER BY id");
    expect(allocationsAfter.map((row) => Object.fromEntries(Object.keys(allocationsBefore[0]).map((key) => [key, row[key]])))).toEqual(allocationsBefore);
    for (const row of [...subnetsAfter, ...allocationsAfter]) expect(row.claim).toBeNull();
    expect(await rowsOf("SELECT * FROM ipam.allocated_address ORDER BY subnet_id, ordinal")).toEqual(addressesBefore);
    expect(await rowsOf("SELECT * FROM ipam.audit_event ORDER BY id")).toEqual(auditBefore);
    expect([await freeRanges(2), await freeRanges(3)]).toEqual(childRangesBefore);
    // The parent's free ranges no longer reach into its child's block.
    expect(await freeRanges(1)).toEqual(["10.9.0.1-10.9.0.255", "10.9.2.0-10.9.200.4", "10.9.200.6-10.9.255.254"]);
  });

  it("inet_to_ordinal inverts ordinal_to_inet and agrees with the core's integers", async () => {
    await fc.assert(
      fc.asyncProperty(fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }), fc.bigInt({ min: 0n, max: 2n ** 32n - 1n }), async (v6, v4) => {
        const { rows } = await client.query(
          `SELECT ipam.inet_to_ordinal($1::inet)::text AS six, ipam.inet_to_ordinal($2::inet)::text AS four,
                  ipam.inet_to_ordinal(ipam.ordinal_to_inet($3, 6))::text AS round_trip`,
          [formatAddress(6, v6), formatAddress(4, v4), v6.toString()],
        );
        expect(rows[0]).toEqual({ six: v6.toString(), four: v4.toString(), round_trip: v6.toString() });
      }),
      { numRuns: 200 },
    );
  });

  it("the migrated data works with the child API", async () => {
    const ipam = await Ipam.open({ databaseUrl: db.url });
    try {
      expect(await ipam.getSubnet("2")).toMatchObject({ parentId: "1", cidr: "10.9.1.0/24", namespace: "legacy", childrenOnly: false });
      expect(await ipam.usage("1")).toMatchObject({ allocated: "2", childPrefixes: 1, childAddresses: "256" });
      // The first child operation builds the parent's free blocks from what is there.
      expect((await ipam.createSubnet({ parentId: "1", prefixLength: 24 })).cidr).toBe("10.9.0.0/24");
      expect((await ipam.allocate({ subnetId: "1", owner: "new" })).allocation.addresses).toEqual(["10.9.2.0"]);
      expect(await ipam.allocate({ subnetId: "1", owner: "x", address: "10.9.1.50" }).catch((error) => error.code)).toBe("ADDRESS_IN_USE");
      await ipam.release((await ipam.listAllocations({ subnetId: "2" })).allocations[0]!.id);
      await ipam.deleteSubnet("2");
      // Its block went back, but not the legacy parent address inside it: indexes are exact.
      const index = await childIndexComparison(db.url, "1");
      expect(index.storedRanges).toEqual(index.expectedRanges);
      expect(index.storedBlocks).toEqual(index.expectedBlocks);
      expect(await ipam.whoHolds("1", "10.9.1.200")).toMatchObject({ owner: "legacy-overlap" });
      // 10.9.1.0/24 holds the legacy address and 10.9.2.0/24 the new one: first fit steps over both.
      expect((await ipam.createSubnet({ parentId: "1", prefixLength: 24 })).cidr).toBe("10.9.3.0/24");
      expect((await ipam.allocate({ subnetId: "3", owner: "v6" })).allocation.addresses).toEqual(["2001:db8:9::1"]);
    } finally {
      await ipam.close();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import fc from "fast-check";
import { Ipam, migrate, loadMigrations } from "../../provider/store/index.js";
import { formatAddress } from "../../provider/core/address.js";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.js";

let db: TestDatabase;
let client: pg.Client;
beforeAll(async () => {
  db = await createTestDatabase("migrate");
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
  await db?.drop();
});

describe("migrations", () => {
  it("eight connections migrating at once apply each migration once, and a rerun applies nothing", async () => {
    const runs = await Promise.all(Array.from({ length: 8 }, () => migrate(db.url, "ipam")));
    const names = (await loadMigrations()).map((m) => `${String(m.version).padStart(4, "0")}_${m.name}`);
    expect(runs.flat().sort()).toEqual(names.sort());
    expect(runs.filter((ran) => ran.length > 0)).toHaveLength(1);
    const recorded = await client.query("SELECT version FROM ipam.schema_migration ORDER BY version");
    expect(recorded.rows.map((row) => row.version)).toEqual((await loadMigrations()).map((m) => m.version));
    expect(await migrate(db.url, "ipam")).toEqual([]);
  });

  it("keeps everything in the configured schema", async () => {
    const ipam = await Ipam.open({ databaseUrl: db.url, schema: "tenant_b" });
    try {
      const subnet = await ipam.createSubnet({ cidr: "10.0.0.0/24" });
      await ipam.allocate({ subnetId: subnet.id, owner: "x" });
      const tables = await client.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'tenant_b' ORDER BY 1");
      expect(tables.rows.map((row) => row.table_name)).toEqual(expect.arrayContaining(["allocated_address", "allocation", "free_range", "subnet"]));
      const stray = await client.query("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'");
      expect(stray.rows[0].n).toBe(0);
    } finally {
      await ipam.close();
    }
    await expect(Ipam.open({ databaseUrl: db.url, schema: 'x"; DROP SCHEMA ipam; --' })).rejects.toMatchObject({ code: "CONFIGURATION" });
  });

  it("ordinal_to_inet in SQL agrees with the canonical text the core produces", async () => {
    await migrate(db.url, "ipam");
    await fc.assert(
      fc.asyncProperty(fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }), fc.bigInt({ min: 0n, max: 2n ** 32n - 1n }), async (v6, v4) => {
        const { rows } = await client.query("SELECT host(ipam.ordinal_to_inet($1, 6)) AS six, host(ipam.ordinal_to_inet($2, 4)) AS four", [v6.toString(), v4.toString()]);
        expect(rows[0].four).toBe(formatAddress(4, v4));
        // PostgreSQL prints IPv4-compatible ::a.b.c.d forms differently; compare parsed values instead of text there.
        const parsed = await client.query("SELECT ($1::inet = ipam.ordinal_to_inet($2, 6)) AS same", [formatAddress(6, v6), v6.toString()]);
        expect(parsed.rows[0].same).toBe(true);
      }),
      { numRuns: 200 },
    );
    const edges: [bigint, 4 | 6][] = [[0n, 4], [2n ** 32n - 1n, 4], [0n, 6], [1n, 6], [0xffff00000000n, 6], [2n ** 64n, 6], [2n ** 128n - 1n, 6]];
    for (const [ordinal, version] of edges) {
      const { rows } = await client.query("SELECT ($1::inet = ipam.ordinal_to_inet($2, $3)) AS same, masklen(ipam.ordinal_to_inet($2, $3)) AS bits", [formatAddress(version, ordinal), ordinal.toString(), version]);
      expect(rows[0]).toEqual({ same: true, bits: version === 4 ? 32 : 128 });
    }
  });
});

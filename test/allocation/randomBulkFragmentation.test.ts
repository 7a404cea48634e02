import pg from "pg";
import { sql, type DatabasePool } from "slonik";
import { z } from "zod";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ipam } from "../../provider/store/index.js";
import { allocateAddresses } from "../../provider/store/allocations/addressAllocator.js";
import { createDatabasePool } from "../../provider/store/database/databasePool.js";
import { getSubnetRow } from "../../provider/store/rows/subnetQueries.js";
import { layoutOf } from "../../provider/store/rows/subnetRecords.js";
import { tablesFor } from "../../provider/store/database/tables.js";
import { checkInvariants } from "../helpers/invariants.js";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.js";
import { bindTables } from "../../provider/store/database/storeDatabase.js";

// Issue 13 item 3: a random bulk allocation in a fragmented IPv6 /64 held the subnet's lock for
// minutes: after a few rounds of candidates it read every free range and scanned them once per
// address (count × free ranges), and carving compared every pick with every other. The work must
// grow with `count`, not with the number of free ranges. Counted here as the free-range rows the
// allocation's own transaction reads (pg_stat_xact_user_tables), which no load on the machine changes.

const FREE_RANGES = 2 ** 17;
const COUNT = 20_000;

let db: TestDatabase;
let ipam: Ipam;
let pool: DatabasePool;
const t = tablesFor("ipam");

beforeAll(async () => {
  db = await createTestDatabase("fragmented");
  ipam = await Ipam.open({ databaseUrl: db.url });
  pool = await createDatabasePool(db.url, { maxConnections: 2 });
});
afterAll(async () => {
  await pool?.end();
  await ipam?.close();
  await db?.drop();
});

/** Allocate one address every 2^64 / FREE_RANGES across the /64, leaving FREE_RANGES free ranges. */
async function fragment(subnetId: number): Promise<void> {
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  try {
    await admin.query("BEGIN");
    await admin.query("SET LOCAL search_path = ipam");
    await admin.query(
      `WITH filler AS (INSERT INTO allocation (subnet_id, owner, strategy) VALUES ($1, 'frag/filler', 'random') RETURNING id),
            base AS (SELECT inet_to_ordinal(network(cidr)) AS b FROM subnet WHERE id = $1)
       INSERT INTO allocated_address (subnet_id, address, ordinal, allocation_id)
       SELECT $1, ordinal_to_inet(b + k * $2::numeric, 6), b + k * $2::numeric, filler.id FROM filler, base, generate_series(1, $3 - 1) AS k`,
      [subnetId, (2n ** 64n / BigInt(FREE_RANGES)).toString(), FREE_RANGES],
    );
    await admin.query(
      `WITH span AS (DELETE FROM free_range WHERE subnet_id = $1 RETURNING first_ordinal AS lo, last_ordinal AS hi),
            gap AS (SELECT ordinal FROM allocated_address WHERE subnet_id = $1),
            edge AS (SELECT lo - 1 AS ordinal FROM span UNION ALL SELECT ordinal FROM gap UNION ALL SELECT hi + 1 FROM span)
       INSERT INTO free_range (subnet_id, first_ordinal, last_ordinal)
       SELECT $1, ordinal + 1, next - 1 FROM (SELECT ordinal, lead(ordinal) OVER (ORDER BY ordinal) AS next FROM edge) e WHERE next IS NOT NULL AND next > ordinal + 1`,
      [subnetId],
    );
    await admin.query("COMMIT");
  } finally {
    await admin.end();
  }
}

describe("random bulk allocation in a fragmented subnet", () => {
  it(`reads a bounded number of free ranges: ${COUNT.toLocaleString("en-US")} random addresses among ${FREE_RANGES.toLocaleString("en-US")} free ranges`, async () => {
    const subnet = await ipam.createSubnet({ cidr: "2001:db8:5::/64", namespace: "frag" });
    await fragment(Number(subnet.id));
    const ranges = await pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM ipam.free_range WHERE subnet_id = ${Number(subnet.id)}`);
    expect(ranges).toBe(FREE_RANGES);
    const { id, read } = await pool.transaction(async (tx) => {
      // A session's unflushed counts of earlier transactions show here too: take the difference.
      const readSoFar = () =>
        tx.oneFirst(sql.type(z.object({ read: z.number() }))`
          SELECT (coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0))::int AS read FROM pg_stat_xact_user_tables WHERE relid = 'ipam.free_range'::regclass
        `);
      const before = await readSoFar();
      const row = (await getSubnetRow(bindTables(tx, t), Number(subnet.id)))!;
      const request = { subnetId: row.id, layout: layoutOf(row), owner: "frag/bulk", idempotencyKey: null, strategy: "random" as const, address: null, count: COUNT, description: "", tags: {} };
      const created = await allocateAddresses(bindTables(tx, t), request);
      return { id: created, read: (await readSoFar()) - before };
    });
    // One probe per candidate plus the carve: a small multiple of COUNT, whatever FREE_RANGES is.
    // Reading every free range (the old exact fallback) alone is FREE_RANGES, over 6 × COUNT.
    expect(read).toBeLessThan(4 * COUNT);
    const allocation = await ipam.getAllocation(id);
    expect(allocation.addresses).toHaveLength(COUNT);
    expect((await checkInvariants(db.url)).violations).toEqual([]);
  }, 300_000);
});

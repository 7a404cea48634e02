import pg from "pg";
import type { DatabasePool } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ipam } from "../../provider/store/index.js";
import { BULK_CHUNK } from "../../provider/store/allocations/bulkInChunks.js";
import { createDatabasePool } from "../../provider/store/database/databasePool.js";
import { oneChunkCounted, plantSpacedAddresses } from "../helpers/bulkChunk.js";
import { checkInvariants } from "../helpers/invariants.js";
import { rowsRead } from "../helpers/rowsRead.js";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.js";

// Issue 25, scenario 9 on PostgreSQL 18: the first chunk of a random bulk in a freshly fragmented
// /64 ran past the 60 s statement timeout. The planner's statistics still described the table as
// it was before the subnet's rows arrived (the subnet absent from the most-common values, so
// estimated at one row), and for "allocated or held inside each window" in sync_free_ranges it
// chose allocated_address's primary key (subnet_id, address) with the ordinal as a filter, tied in
// cost with the (subnet_id, ordinal) index: every window then read every row of the subnet, 1,024
// windows × the subnet's rows per chunk. The work of one chunk must not depend on how many rows the
// subnet holds, whatever the statistics say. Counted here as the rows one chunk's transaction reads
// from allocated_address and free_range (pg_stat_xact_*: its own counts, which no load changes),
// with statistics made stale on purpose (analysed before the subnet was filled, autovacuum off for
// these tables in this test's database) — the state a subnet is in right after an import, a
// restore or a big fill, before autovacuum catches up.

const FILLER = 2 ** 15;

let db: TestDatabase;
let ipam: Ipam;
let pool: DatabasePool;
let admin: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase("chunkwork");
  ipam = await Ipam.open({ databaseUrl: db.url });
  pool = await createDatabasePool(db.url, { maxConnections: 2 });
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
});
afterAll(async () => {
  await admin?.end();
  await pool?.end();
  await ipam?.close();
  await db?.drop();
});

const TABLES = ["allocated_address", "free_range", "held_address", "allocation"];

/** Statistics of the subnets there are now, kept (no autovacuum on these tables) while another subnet fills. */
async function freezeStatistics(): Promise<void> {
  for (const table of TABLES) await admin.query(`ALTER TABLE ipam.${table} SET (autovacuum_enabled = false)`);
  for (const table of TABLES) await admin.query(`ANALYZE ipam.${table}`);
}

describe("one chunk of a random bulk in a fragmented subnet the statistics do not know yet", () => {
  it(`reads rows in proportion to the chunk (${BULK_CHUNK}), not to the subnet's ${FILLER.toLocaleString("en-US")} addresses and free ranges`, async () => {
    // A subnet the statistics know, then one they do not.
    const known = await ipam.createSubnet({ cidr: "2001:db8:a::/64", namespace: "chunk" });
    await ipam.allocate({ subnetId: known.id, owner: "chunk/known", strategy: "sequential", count: 1000 });
    await freezeStatistics();
    const subnet = await ipam.createSubnet({ cidr: "2001:db8:b::/64", namespace: "chunk" });
    await plantSpacedAddresses(admin, Number(subnet.id), FILLER - 1, 2n ** 64n / BigInt(FILLER), false);

    // The old plan read 1,024 × FILLER rows: the transaction's 120 s bound fails it instead of hanging the run.
    const { id, change: reads } = await oneChunkCounted(pool, Number(subnet.id), (tx) => rowsRead(tx, ["allocated_address", "free_range"]));
    // Per address: a candidate probe, the ranges around it, its own row and the audit's count of
    // the allocation: a small multiple of the chunk. Reading the subnet once per window is
    // BULK_CHUNK × FILLER (33 million); reading it once at all is FILLER, 32 × BULK_CHUNK.
    expect(reads.allocated_address).toBeLessThan(16 * BULK_CHUNK);
    expect(reads.free_range).toBeLessThan(16 * BULK_CHUNK);
    expect((await ipam.getAllocation(id)).addresses).toHaveLength(BULK_CHUNK);
    // The invariant checker's own joins need statistics that know the subnet.
    for (const table of TABLES) await admin.query(`ANALYZE ipam.${table}`);
    expect((await checkInvariants(db.url, { subnetIds: [subnet.id] })).violations).toEqual([]);
  }, 300_000);
});

import pg from "pg";
import type { DatabasePool, DatabaseTransactionConnection } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConflictError } from "../../provider/core/errors.js";
import { buildLayout } from "../../provider/core/subnetLayout.js";
import { createDatabasePool } from "../../provider/store/database/databasePool.js";
import { bindTables } from "../../provider/store/database/storeDatabase.js";
import { tablesFor } from "../../provider/store/database/tables.js";
import { Ipam } from "../../provider/store/index.js";
import { getSubnetRow } from "../../provider/store/rows/subnetQueries.js";
import { layoutOf } from "../../provider/store/rows/subnetRecords.js";
import { rebuildFreeRanges, syncFreeRanges } from "../../provider/store/space/freeSpace.js";
import { addressesOutsidePools, changedSpace, refuseBlockedAddresses } from "../../provider/store/subnets/subnetChanges.js";
import { checkInvariants } from "../helpers/invariants.js";
import { rowsRead } from "../helpers/rowsRead.js";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.js";

// "Costs do not grow with fill": every subnet update (a change of tags included) checks that the
// gateway and reserved ranges cover no allocated address and lists the addresses outside the
// pools. Both joined the subnet's addresses against the ranges, so when nothing matched (the usual
// case) they read every address of the subnet. Counted here as the rows the checks' own
// transaction reads from allocated_address (pg_stat_xact_*: its own counts, no load changes them).

const FILLED = 20_000;
const t = tablesFor("ipam");

let db: TestDatabase;
let ipam: Ipam;
let pool: DatabasePool;
let subnetId: string;

beforeAll(async () => {
  db = await createTestDatabase("subnetupdatecost");
  ipam = await Ipam.open({ databaseUrl: db.url });
  pool = await createDatabasePool(db.url, { maxConnections: 2 });
  const subnet = await ipam.createSubnet({ cidr: "10.70.0.0/16", namespace: "cost" });
  subnetId = subnet.id;
  for (let i = 0; i < FILLED / 10_000; i++) await ipam.allocate({ subnetId, owner: `cost/bulk${i}`, strategy: "sequential", count: 10_000 });
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  await admin.query("ANALYZE ipam.allocated_address");
  await admin.end();
}, 300_000);
afterAll(async () => {
  await pool?.end();
  await ipam?.close();
  await db?.drop();
});

/** Rows of allocated_address this transaction has read so far. */
const addressRowsRead = async (tx: DatabaseTransactionConnection) => (await rowsRead(tx, ["allocated_address"])).get("allocated_address")!;

/** Run `check` on this subnet's row in a transaction of our own, with the rows it read. */
async function counted<T>(check: (tx: ReturnType<typeof bindTables>, layout: ReturnType<typeof layoutOf>, id: number) => Promise<T>) {
  return pool.transaction(async (tx) => {
    const bound = bindTables(tx, t);
    const row = (await getSubnetRow(bound, Number(subnetId)))!;
    const before = await addressRowsRead(tx);
    const result = await check(bound, layoutOf(row), Number(subnetId)).catch((error: unknown) => error);
    return { result, read: (await addressRowsRead(tx)) - before };
  });
}

describe(`a subnet update's checks in a subnet holding ${FILLED.toLocaleString("en-US")} addresses`, () => {
  it("read a handful of address rows when nothing is covered, not the subnet's", async () => {
    const { result, read } = await counted(async (tx, layout, id) => {
      const changed = buildLayout(layout.cidr, { gateway: "10.70.200.1", reserved: ["10.70.201.0/24", "10.70.250.7"] });
      await refuseBlockedAddresses(tx, id, changed);
      return addressesOutsidePools(tx, id, changed);
    });
    expect(result).toEqual([]);
    expect(read).toBeLessThan(50); // the join read all 20,000 (and more, once per range)
  });

  it("still name the first covered addresses, in address order, and the first page outside the pools", async () => {
    // 10.70.0.1 onwards are allocated: reserved blocks cover 8 + 16 + 4 of them; the first 20 are named.
    const blocked = await counted((tx, layout, id) => refuseBlockedAddresses(tx, id, buildLayout(layout.cidr, { reserved: ["10.70.3.0/30", "10.70.0.248/29", "10.70.1.0/28"] })));
    expect(blocked.result).toBeInstanceOf(ConflictError);
    const conflict = blocked.result as ConflictError;
    expect(conflict.field).toBe("reserved");
    expect(conflict.addresses).toEqual([...Array.from({ length: 8 }, (_, i) => `10.70.0.${248 + i}`), ...Array.from({ length: 12 }, (_, i) => `10.70.1.${i}`)]);
    expect(blocked.read).toBeLessThan(100);

    const gateway = await counted((tx, layout, id) => refuseBlockedAddresses(tx, id, buildLayout(layout.cidr, { gateway: "10.70.10.10" })));
    expect(gateway.result).toBeInstanceOf(ConflictError);
    expect((gateway.result as ConflictError).addresses).toEqual(["10.70.10.10"]);

    // Pools leaving out 10.70.0.1–10.70.0.99 and everything from 10.70.78.0 (the last allocated is 10.70.78.32).
    const outside = await counted((tx, layout, id) =>
      addressesOutsidePools(tx, id, buildLayout(layout.cidr, { allocationPools: [{ start: "10.70.0.100", end: "10.70.77.255" }] })),
    );
    const expected = [...Array.from({ length: 99 }, (_, i) => `10.70.0.${i + 1}`), "10.70.78.0"];
    expect((outside.result as string[]).slice(0, 100)).toEqual(expected);
    expect(outside.read).toBeLessThan(1_000);
  });

  it("a layout change re-derives the free index where the layout changed only", async () => {
    // Pools ending at 10.70.200.255 instead of the subnet's end: the windows are the part given up.
    const windows = await counted(async (tx, layout, id) => {
      const changed = buildLayout(layout.cidr, { allocationPools: [{ start: "10.70.0.1", end: "10.70.200.255" }] });
      const space = changedSpace(layout.available, changed.available);
      await syncFreeRanges(tx, id, space);
      return space;
    });
    expect(windows.result).toEqual([{ first: 0x0a46c900n, last: 0x0a46fffen }]);
    expect(windows.read).toBeLessThan(50);
    // The control: the whole-subnet re-derivation every layout change used to run.
    const whole = await counted((tx, _layout, id) => rebuildFreeRanges(tx, id));
    expect(whole.read).toBeGreaterThanOrEqual(FILLED);
  });

  it("layout changes through updateSubnet leave the free index exact", async () => {
    const changes = [
      { allocationPools: [{ start: "10.70.0.1", end: "10.70.200.255" }] },
      { reserved: ["10.70.200.0/24", "10.70.150.7"] },
      { gateway: "10.70.210.1" },
      { allocationPools: [{ start: "10.70.0.50", end: "10.70.120.255" }, { start: "10.70.130.0", end: "10.70.255.254" }], gateway: null },
      { allocationPools: null, reserved: [], gateway: null },
    ];
    for (const change of changes) {
      await ipam.updateSubnet(subnetId, change);
      expect((await checkInvariants(db.url, { subnetIds: [subnetId] })).violations, JSON.stringify(change)).toEqual([]);
    }
    // The space given up and taken back is handed out again: the next address after the fill.
    const next = await ipam.allocate({ subnetId, owner: "cost/next", strategy: "sequential" });
    expect(next.allocation.addresses).toEqual(["10.70.78.33"]);
    await ipam.release(next.allocation.id);
  }, 120_000);

  it("an update of tags goes through and reports nothing outside the pools", async () => {
    const updated = await ipam.updateSubnet(subnetId, { tags: { team: "net" } });
    expect(updated.allocationsOutsidePools).toEqual([]);
    expect(updated.subnet.tags).toEqual({ team: "net" });
  });
});

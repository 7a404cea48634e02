import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ipam } from "../../provider/store/index.js";
import { IPAM_LOCK_CLASS } from "../../provider/store/database/lockKeys.js";
import { createLeastPrivilegeDatabase, type LeastPrivilegeDatabase } from "../helpers/leastPrivilegeDatabase.js";
import { createTestDatabase } from "../helpers/testDatabase.js";

// Issue 13 item 5: "SET search_path FROM CURRENT" put pg_temp first (a path that does not list it
// searches it first), so a session's temporary tables named free_range and allocated_address took
// the place of ours inside allocate_next: it handed out an address that was already allocated.

let db: LeastPrivilegeDatabase;
let ipam: Ipam;

beforeAll(async () => {
  db = await createLeastPrivilegeDatabase("shadow");
  ipam = await Ipam.open({ databaseUrl: db.url });
});
afterAll(async () => {
  await ipam?.close();
  await db?.drop();
});

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

describe("temporary tables cannot shadow the schema's tables inside its functions", () => {
  it("allocate_next ignores a session's temporary free_range and allocated_address (run by a role that may create them)", async () => {
    const subnet = await ipam.createSubnet({ cidr: "10.88.0.0/29", namespace: "shadow" });
    const first = await ipam.allocate({ subnetId: subnet.id, owner: "shadow/first" });
    const ordinal = (await withClient(db.url, (c) => c.query<{ o: string }>("SELECT ordinal::text AS o FROM ipam.allocated_address WHERE allocation_id = $1", [first.allocation.id]))).rows[0]!.o;
    const handed = await withClient(db.url, async (client) => {
      await client.query("CREATE TEMPORARY TABLE free_range (subnet_id integer, first_ordinal numeric, last_ordinal numeric)");
      await client.query("CREATE TEMPORARY TABLE allocated_address (subnet_id integer, address inet, ordinal numeric, allocation_id bigint)");
      await client.query("INSERT INTO pg_temp.free_range VALUES ($1, $2, $2)", [Number(subnet.id), ordinal]);
      const result = await client.query<{ r_status: string; r_ordinal: string }>(
        "SELECT r_status, r_ordinal::text FROM ipam.allocate_next($1, 'shadow/second', NULL, '', '{}', $2, 5000)",
        [Number(subnet.id), IPAM_LOCK_CLASS],
      );
      return result.rows[0]!;
    });
    expect(handed.r_status).toBe("ok");
    expect(handed.r_ordinal).not.toBe(ordinal);
    const holders = (await ipam.listAllocations({ subnetId: subnet.id })).allocations.map((a) => a.addresses);
    expect(new Set(holders.flat()).size).toBe(holders.flat().length);
    expect(holders.flat()).toHaveLength(2);
  });

  it("the application role cannot create temporary tables at all", async () => {
    const error = await withClient(db.appUrl, (c) => c.query("CREATE TEMPORARY TABLE free_range (x int)")).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "42501" });
  });

  it("every function of the schema pins search_path to the configured schema, then pg_temp", async () => {
    const other = await createTestDatabase("shadowschema");
    try {
      await (await Ipam.open({ databaseUrl: other.url, schema: "net_ipam" })).close();
      for (const [url, schema] of [
        [db.url, "ipam"],
        [other.url, "net_ipam"],
      ] as const) {
        const functions = await withClient(url, (c) =>
          c.query<{ name: string; config: string[] | null }>("SELECT proname AS name, proconfig AS config FROM pg_proc WHERE pronamespace = $1::regnamespace ORDER BY 1", [schema]),
        );
        expect(functions.rows.length).toBeGreaterThan(3);
        // Besides the pinned search_path a function may only turn JIT off (0016, 0017: index probes the planner over-costs),
        // and the free-index derivation bitmap scans (0018: PostgreSQL 18 ANDed a skip scan into its per-window probe).
        const allowed = (name: string, entry: string) => entry === "jit=off" || (name === "sync_free_ranges" && entry === "enable_bitmapscan=off");
        for (const fn of functions.rows) {
          const config = fn.config ?? [];
          expect({ name: fn.name, searchPath: config.filter((entry) => entry.startsWith("search_path=")) }).toEqual({ name: fn.name, searchPath: [`search_path=${schema}, pg_temp`] });
          expect({ name: fn.name, others: config.filter((entry) => !entry.startsWith("search_path=") && !allowed(fn.name, entry)) }).toEqual({ name: fn.name, others: [] });
        }
      }
    } finally {
      await other.drop();
    }
  });
});

import pg from "pg";
import { describe, expect, it } from "vitest";
import { SNAPSHOT_FORMAT } from "../../provider/core/snapshot.js";
import { useTestIpam } from "../helpers/openTestIpam.js";

const context = useTestIpam("importlocks");

const SUBNETS = 300;
const subnet = (i: number, namespace: string) => ({
  id: String(i + 1), namespace, parentId: null, cidr: `10.${i >> 8}.${i & 255}.0/24`, gateway: null, allocationPools: null, reserved: [], description: "", tags: {},
});

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("import of many brand-new subnets (issue 22 item 6)", () => {
  it("holds at most one advisory lock, however many subnets it creates (one per subnet ran out of lock memory at ~15k)", async () => {
    // The last subnet's namespace is being inserted by an open transaction: the import waits for it
    // mid-way, with whatever locks it holds, and this test counts them meanwhile.
    const snapshot = {
      format: SNAPSHOT_FORMAT,
      subnets: Array.from({ length: SUBNETS }, (_, i) => subnet(i, i === SUBNETS - 1 ? "held-back" : "bulk")),
      allocations: [{ id: "1", subnetId: "1", owner: "o", idempotencyKey: null, strategy: "specific", addresses: ["10.0.0.9"], description: "", tags: {} }],
    };
    const blocker = new pg.Client({ connectionString: context.db.url });
    const observer = new pg.Client({ connectionString: context.db.url });
    await blocker.connect();
    await observer.connect();
    try {
      await blocker.query("BEGIN");
      await blocker.query("INSERT INTO ipam.namespace (name) VALUES ('held-back')");
      const importing = context.ipam.importSnapshot(snapshot);
      importing.catch(() => undefined);
      const waiting = await until("the import to wait on the namespace insert", async () => {
        const { rows } = await observer.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
        );
        return rows[0]?.pid;
      });
      const { rows } = await observer.query<{ held: string }>(`SELECT count(*)::text AS held FROM pg_locks WHERE locktype = 'advisory' AND pid = $1 AND granted`, [waiting]);
      // A second import meanwhile is refused at once, saying why, and writes nothing.
      const second = { format: SNAPSHOT_FORMAT, subnets: [{ ...subnet(0, "second"), id: "5000", cidr: "192.168.7.0/24" }], allocations: [] };
      await expect(context.ipam.importSnapshot(second)).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringContaining("another import") });
      await blocker.query("ROLLBACK");
      const result = await importing;
      expect(Number(rows[0]!.held)).toBeLessThanOrEqual(1);
      expect(result).toMatchObject({ subnets: SUBNETS, allocations: 1, addresses: 1 });
      expect((await context.ipam.listSubnets({ namespace: "held-back" })).map((s) => s.cidr)).toEqual([subnet(SUBNETS - 1, "").cidr]);
      expect(await context.ipam.listSubnets({ namespace: "second" })).toEqual([]);
    } finally {
      await blocker.end();
      await observer.end();
    }
  });
});

import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ipam } from "../../provider/store/index.js";
import { checkSnapshotFile } from "../../provider/store/snapshots/snapshotFileCheck.js";
import { useTestIpam } from "../helpers/openTestIpam.js";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.js";

/**
 * Issue 25: `ipam import` reads its file as a stream, twice (check, then write a window at a time).
 * The whole-file import (a parsed snapshot passed in memory: validateSnapshot, then one write per
 * subnet) is the oracle: the streamed import of the same file must leave the same rows in every
 * table. Audit events are compared without their ids and times (the streamed import writes the
 * allocations in file order, not subnet by subnet, so events are numbered in another order).
 */
const source = useTestIpam("streamsrc");
let dir: string;
let file: string;
let whole: TestDatabase;
let streamed: TestDatabase;

/** Each table's rows as sorted JSON texts, leaving out what is the server's own (audit ids and times, namespace creation time). */
async function rowsOf(url: string): Promise<Record<string, string[]>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const tables: Record<string, string> = {
      namespace: "SELECT id, name FROM ipam.namespace",
      subnet: "SELECT * FROM ipam.subnet",
      allocation: "SELECT * FROM ipam.allocation",
      allocated_address: "SELECT * FROM ipam.allocated_address",
      free_range: "SELECT * FROM ipam.free_range",
      free_block: "SELECT * FROM ipam.free_block",
      held_address: "SELECT * FROM ipam.held_address",
      held_block: "SELECT * FROM ipam.held_block",
      pending_allocation: "SELECT * FROM ipam.pending_allocation",
      audit_event: "SELECT action, subnet_id, cidr, allocation_id, owner, addresses, detail FROM ipam.audit_event",
    };
    const result: Record<string, string[]> = {};
    for (const [table, query] of Object.entries(tables)) {
      const { rows } = await client.query<{ row: string }>(`SELECT row_to_json(t)::text AS row FROM (${query}) t`);
      result[table] = rows.map((r) => r.row).sort();
    }
    return result;
  } finally {
    await client.end();
  }
}

async function countsOf(url: string): Promise<number[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM ipam.subnet UNION ALL SELECT count(*)::int FROM ipam.allocation UNION ALL SELECT count(*)::int FROM ipam.allocated_address UNION ALL SELECT count(*)::int FROM ipam.audit_event",
    );
    return rows.map((r) => r.n);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  const { ipam } = source;
  // Several namespaces, a tree of children, IPv4 and IPv6, bulk and single allocations, a hold-down with a live hold.
  const pool = await ipam.createSubnet({ cidr: "10.80.0.0/16", namespace: "tree", childrenOnly: true, defaultPrefixLength: 24 });
  const children = [];
  for (let i = 0; i < 6; i += 1) children.push(await ipam.createSubnet({ parentId: pool.id, idempotencyKey: `child-${i}` }));
  const mixed = await ipam.createSubnet({ cidr: "10.81.0.0/22", namespace: "tree", gateway: "10.81.0.1", releaseHoldSeconds: 600 });
  await ipam.createSubnet({ parentId: mixed.id, cidr: "10.81.2.0/24" });
  const v6 = await ipam.createSubnet({ cidr: "2001:db8:80::/64", namespace: "six" });
  const flat = await ipam.createSubnet({ cidr: "192.168.80.0/24", namespace: "flat", reserved: ["192.168.80.200/29", "192.168.80.77"] });
  for (const [i, child] of children.entries()) {
    for (let k = 0; k < 40; k += 1) await ipam.allocate({ subnetId: child.id, owner: `stack-${k % 5}`, idempotencyKey: `c${i}-${k}`, count: 1 + (k % 3) });
  }
  await ipam.allocate({ subnetId: children[0]!.id, owner: "bulk", count: 100 });
  for (let k = 0; k < 120; k += 1) await ipam.allocate({ subnetId: mixed.id, owner: `m${k % 7}`, count: 1, tags: { k: String(k) }, description: `d${k}` });
  const released = await ipam.allocate({ subnetId: mixed.id, owner: "gone", address: "10.81.1.200" });
  await ipam.release(released.allocation.id);
  // A child deleted under the hold-down: its block stays held (migration 0014) and travels in the file.
  const gone = await ipam.createSubnet({ parentId: mixed.id, cidr: "10.81.3.0/25", idempotencyKey: "gone-child" });
  await ipam.deleteSubnet(gone.id);
  await ipam.allocate({ subnetId: v6.id, owner: "v6", strategy: "random", count: 300 });
  for (let k = 0; k < 30; k += 1) await ipam.allocate({ subnetId: v6.id, owner: "v6-one", idempotencyKey: `v${k}` });
  await ipam.allocate({ subnetId: flat.id, owner: "dns", address: "192.168.80.53" });
  const many = [await ipam.createSubnet({ cidr: "10.90.0.0/16", namespace: "many" }), await ipam.createSubnet({ cidr: "10.91.0.0/16", namespace: "many" })];
  dir = await mkdtemp(join(tmpdir(), "ipam-streamed-import-"));
  file = join(dir, "snapshot.json");
  let text = "";
  await ipam.writeSnapshot({}, async (chunk) => {
    text += chunk;
  });
  // Plus 6,000 allocations alternating between two subnets (several windows of 2,000, each spanning subnets), written into the file.
  const snapshot = JSON.parse(text);
  const next = Math.max(...snapshot.allocations.map((a: { id: string }) => Number(a.id))) + 1;
  for (let g = 0; g < 6_000; g += 1) {
    const subnet = many[g % 2]!;
    const at = 16 + Math.floor(g / 2);
    snapshot.allocations.push({
      id: String(next + g), subnetId: subnet.id, owner: `many-${g % 11}`, idempotencyKey: g % 3 === 0 ? null : `m${g}`, strategy: g % 5 === 0 ? "specific" : "sequential",
      addresses: [`10.${90 + (g % 2)}.${at >> 8}.${at & 255}`], description: "", tags: { g: String(g) }, createdAt: "2026-12-01T10:00:00.000000Z", updatedAt: "2026-12-01T10:00:00.000000Z",
    });
  }
  await writeFile(file, JSON.stringify(snapshot, null, 2));
  whole = await createTestDatabase("streamwhole");
  streamed = await createTestDatabase("streamed");
});
afterAll(async () => {
  await whole?.drop();
  await streamed?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("streamed import (issue 25)", () => {
  it("leaves the same rows in every table as the whole-file import of the same file", async () => {
    const snapshot = JSON.parse(await readFile(file, "utf8"));
    expect(snapshot.allocations.length).toBeGreaterThan(6_000);
    const a = await Ipam.open({ databaseUrl: whole.url });
    const b = await Ipam.open({ databaseUrl: streamed.url });
    try {
      const byWhole = await a.importSnapshot(snapshot);
      const byStream = await b.importSnapshot(await checkSnapshotFile(file, file));
      expect(byStream).toEqual({ subnets: byWhole.subnets, allocations: byWhole.allocations, addresses: byWhole.addresses, subnetIds: byWhole.subnetIds });
      const expected = await rowsOf(whole.url);
      const actual = await rowsOf(streamed.url);
      for (const table of Object.keys(expected)) expect({ table, rows: actual[table] }).toEqual({ table, rows: expected[table] });
      expect(expected.held_address).toHaveLength(1);
      expect(expected.held_block).toHaveLength(1);
      expect(expected.allocated_address!.length).toBeGreaterThan(900);
      // And both export the same text, byte for byte (but for the moment of export).
      const exportOf = async (ipam: Ipam) => {
        let text = "";
        await ipam.writeSnapshot({}, async (chunk) => {
          text += chunk;
        });
        return text.replace(/"exportedAt": "[^"]*"/, "");
      };
      expect(await exportOf(b)).toBe(await exportOf(a));
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("writes nothing when the file changed between its check and its import (read twice: digest compared before commit)", async () => {
    const copy = join(dir, "changing.json");
    const text = await readFile(file, "utf8");
    await writeFile(copy, text);
    const checked = await checkSnapshotFile(copy, "changing.json");
    // Same length, one owner changed: the second read differs.
    await writeFile(copy, text.replace('"owner": "bulk"', '"owner": "bulK"'));
    const fresh = await createTestDatabase("streamchanged");
    const ipam = await Ipam.open({ databaseUrl: fresh.url });
    try {
      const error = await ipam.importSnapshot(checked).then(() => null, (e: unknown) => e);
      expect(error).toMatchObject({ code: "INVALID_INPUT", message: expect.stringContaining("changing.json changed while it was being read; nothing was imported") });
      expect(await countsOf(fresh.url)).toEqual([0, 0, 0, 0]);
    } finally {
      await ipam.close();
      await fresh.drop();
    }
  });

  it("a look-alike of a checked file is validated as a snapshot, not imported from its path", async () => {
    const fresh = await createTestDatabase("streamlookalike");
    const ipam = await Ipam.open({ databaseUrl: fresh.url });
    try {
      const real = await checkSnapshotFile(file, file);
      const error = await ipam.importSnapshot({ ...real }).then(() => null, (e: unknown) => e);
      expect(error).toMatchObject({ code: "INVALID_INPUT" });
      expect(await countsOf(fresh.url)).toEqual([0, 0, 0, 0]);
    } finally {
      await ipam.close();
      await fresh.drop();
    }
  });
});

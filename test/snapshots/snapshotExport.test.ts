import type { DatabasePool } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { displayJson } from "../../provider/core/displayText.js";
import { createDatabasePool } from "../../provider/store/database/databasePool.js";
import { DEFAULT_SCHEMA } from "../../provider/store/database/schemaName.js";
import { readSnapshot, writeSnapshot } from "../../provider/store/snapshots/snapshotExport.js";
import { tablesFor } from "../../provider/store/database/tables.js";
import { useTestIpam } from "../helpers/openTestIpam.js";
import { bindTables, inConsistentRead } from "../../provider/store/database/storeDatabase.js";

// Issue 14 part 3: `ipam export` is written a page at a time; the text must stay what the
// in-memory reader gave (displayJson(readSnapshot(...), 2)), whatever the page size.
const source = useTestIpam("snapexport");
const empty = useTestIpam("snapexportempty");
const t = tablesFor(DEFAULT_SCHEMA);
const settings = { lockTimeoutMs: 5_000, statementTimeoutMs: 30_000 };
let pool: DatabasePool;

const untimed = (text: string) => text.replace(/"exportedAt": "[^"]+"/, '"exportedAt": "-"');

async function streamed(url: string, namespace: string | undefined, pageSize: number): Promise<{ text: string; counts: { subnets: number; allocations: number } }> {
  const db = await createDatabasePool(url);
  try {
    const chunks: string[] = [];
    const counts = await inConsistentRead(db, settings, (tx) => writeSnapshot(bindTables(tx, t), { namespace }, async (chunk) => void chunks.push(chunk), pageSize));
    return { text: chunks.join(""), counts };
  } finally {
    await db.end();
  }
}

async function inMemory(url: string, namespace: string | undefined): Promise<string> {
  const db = await createDatabasePool(url);
  try {
    return displayJson(await inConsistentRead(db, settings, (tx) => readSnapshot(bindTables(tx, t), { namespace })), 2);
  } finally {
    await db.end();
  }
}

beforeAll(async () => {
  const { ipam } = source;
  const parent = await ipam.createSubnet({ cidr: "10.70.0.0/16", namespace: "b", childrenOnly: true, tags: { "quote\"d": "new\nline" } });
  const child = await ipam.createSubnet({ parentId: parent.id, prefixLength: 24 });
  const web = await ipam.createSubnet({ cidr: "10.71.0.0/24", namespace: "a", gateway: "10.71.0.1", description: "web \u001b[31m" });
  await ipam.createSubnet({ cidr: "2001:db8:70::/64", namespace: "a" });
  await ipam.createSubnet({ cidr: "10.72.0.0/28", namespace: "c" });
  for (let i = 0; i < 7; i += 1) await ipam.allocate({ subnetId: i % 2 === 0 ? web.id : child.id, owner: `o${i % 3}`, count: 1 + (i % 3), idempotencyKey: `k${i}` });
  pool = await createDatabasePool(source.db.url);
});
afterAll(async () => {
  await pool?.end();
});

describe("streamed export", () => {
  it.each([1, 2, 3, 1_000])("writes the same text as the in-memory snapshot, page size %i", async (pageSize) => {
    for (const namespace of [undefined, "a", "b", "missing"]) {
      const { text, counts } = await streamed(source.db.url, namespace, pageSize);
      expect(untimed(text)).toBe(untimed(await inMemory(source.db.url, namespace)));
      const parsed = JSON.parse(text);
      expect(counts).toEqual({ subnets: parsed.subnets.length, allocations: parsed.allocations.length });
    }
    expect(JSON.parse((await streamed(source.db.url, undefined, pageSize)).text).allocations).toHaveLength(7);
  });

  it("writes empty arrays for an empty database", async () => {
    const { text } = await streamed(empty.db.url, undefined, 2);
    expect(JSON.parse(text)).toEqual({ format: "pulumi-ipam/v1", exportedAt: expect.any(String), subnets: [], allocations: [] });
    expect(untimed(text)).toBe(untimed(await inMemory(empty.db.url, undefined)));
  });

  it("Ipam.writeSnapshot parses to what Ipam.exportSnapshot returns", async () => {
    const chunks: string[] = [];
    const counts = await source.ipam.writeSnapshot({}, async (chunk) => void chunks.push(chunk));
    const snapshot = await source.ipam.exportSnapshot();
    expect({ ...JSON.parse(chunks.join("")), exportedAt: null }).toEqual({ ...snapshot, exportedAt: null });
    expect(counts).toEqual({ subnets: snapshot.subnets.length, allocations: snapshot.allocations.length });
  });
});

describe("streamed export failures", () => {
  it("passes on what the writer throws as it is, not as a database error", async () => {
    const full = Object.assign(new Error("no space left on device"), { code: "ENOSPC" });
    await expect(source.ipam.writeSnapshot({}, async () => Promise.reject(full))).rejects.toBe(full);
    // The connection went back to the pool in working order.
    expect((await source.ipam.listSubnets()).length).toBeGreaterThan(0);
  });
});

import { describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { parseCidr } from "../../provider/core/address.js";
import { useTestIpam } from "../helpers/openTestIpam.js";
import { childIndexComparison, childOverlapAndAlignment } from "../helpers/childIndex.js";
import { runWorkers } from "../helpers/workerProcesses.js";

// Workers import dist/: `npm test` builds first (or run `npm run build` before this file alone).
const WORKER = fileURLToPath(new URL("../helpers/workers/childWorker.mjs", import.meta.url));
const context = useTestIpam("childrace");

interface Drained {
  readonly client: number;
  readonly got: { id: string; cidr: string; requested: number }[];
  readonly exhaustedAt: number;
}

describe("children carved by many concurrent clients in several processes", () => {
  it.each([
    ["first-fit", "10.100.0.0/16"],
    ["best-fit", "10.101.0.0/16"],
  ] as const)(
    "32 connections in 2 processes drain a /16 with /20../28 children (%s): aligned, disjoint, all of it, then SUBNET_EXHAUSTED",
    async (strategy, cidr) => {
      const { ipam, db } = context;
      const parent = await ipam.createSubnet({ cidr, namespace: strategy, childrenOnly: true });
      const reports = await runWorkers<Drained>(2, { databaseUrl: db.url, parentId: parent.id, connections: 16, minLength: 20, maxLength: 28, strategy }, WORKER);
      // Every one of the 32 clients stopped because even a /28 no longer fitted, and for no other reason.
      expect(reports.map((report) => Object.keys(report.errors))).toEqual([["SUBNET_EXHAUSTED"], ["SUBNET_EXHAUSTED"]]);
      const clients = reports.flatMap((report) => report.results);
      expect(clients.map((client) => client.exhaustedAt)).toEqual(Array(32).fill(28));

      const got = clients.flatMap((client) => client.got);
      expect(got.length).toBeGreaterThan(100);
      for (const child of got) expect(parseCidr(child.cidr, "cidr").prefixLength).toBe(child.requested);
      expect(new Set(got.map((child) => child.cidr)).size).toBe(got.length);
      expect(new Set(got.map((child) => child.requested)).size).toBeGreaterThan(4);
      // What the clients were told is exactly what the database holds.
      const stored: string[] = [];
      for (let page = await ipam.listChildren(parent.id, { limit: 1000 }); ; page = await ipam.listChildren(parent.id, { limit: 1000, after: page.next! })) {
        stored.push(...page.subnets.map((child) => `${child.id} ${child.cidr}`));
        if (page.next === null) break;
      }
      expect(stored.sort()).toEqual(got.map((child) => `${child.id} ${child.cidr}`).sort());
      // PostgreSQL's own && over every sibling pair, and alignment of every network to its size.
      expect(await childOverlapAndAlignment(db.url, parent.id)).toEqual({ overlaps: 0, misaligned: 0 });
      // Together they cover the /16 exactly.
      const covered = got.reduce((sum, child) => sum + parseCidr(child.cidr, "cidr").size, 0n);
      expect(covered).toBe(65_536n);
      expect(await ipam.usage(parent.id)).toMatchObject({ childPrefixes: got.length, childAddresses: "65536", childSpaceFree: "0" });
      const index = await childIndexComparison(db.url, parent.id);
      expect(index.storedBlocks).toEqual([]);
      expect(index.storedBlocks).toEqual(index.expectedBlocks);
      const after = await ipam.createSubnet({ parentId: parent.id, prefixLength: 28 }).catch((error: unknown) => error);
      expect(after).toMatchObject({ code: "SUBNET_EXHAUSTED", subnetId: parent.id, prefixLength: 28 });
      expect((after as Error).message).toBe(`subnet ${parent.id} (${cidr}) has no free /28 left for a child subnet`);
    },
    600_000,
  );

  it("negative control: without the parent's lock the same kind of load fails or corrupts the free-block index", async () => {
    const { ipam, db } = context;
    const parent = await ipam.createSubnet({ cidr: "10.102.0.0/16", namespace: "unlocked", childrenOnly: true });
    const reports = await runWorkers<Drained>(
      2,
      { databaseUrl: db.url, parentId: parent.id, connections: 16, minLength: 24, maxLength: 24, maxRequests: 3, unsafeSkipLocking: true },
      WORKER,
    );
    const failures = reports.reduce((sum, report) => sum + Object.entries(report.errors).filter(([code]) => code !== "samples").reduce((n, [, v]) => n + Number(v), 0), 0);
    const index = await childIndexComparison(db.url, parent.id);
    const corrupted = JSON.stringify(index.storedBlocks) !== JSON.stringify(index.expectedBlocks);
    // The exclusion constraint still keeps siblings apart; what breaks is the allocator itself.
    expect(await childOverlapAndAlignment(db.url, parent.id)).toEqual({ overlaps: 0, misaligned: 0 });
    expect(failures > 0 || corrupted).toBe(true);
  }, 300_000);
});

import { describe, expect, it } from "vitest";
import { useTestIpam } from "../helpers/openTestIpam.js";
import { freeIndexComparison } from "../helpers/freeIndex.js";
import { runWorkers } from "../helpers/workerProcesses.js";

const context = useTestIpam("concurrency");

describe("many concurrent clients in several processes", () => {
  it.each(["sequential", "random"] as const)(
    "32 connections in 2 processes drain a /24 (%s): every pool address exactly once, then SUBNET_EXHAUSTED",
    async (strategy) => {
      const { ipam, db } = context;
      const subnet = await ipam.createSubnet({ cidr: strategy === "sequential" ? "10.80.0.0/24" : "10.80.1.0/24", gateway: strategy === "sequential" ? "10.80.0.1" : "10.80.1.1" });
      const reports = await runWorkers<string[]>(2, { databaseUrl: db.url, subnetId: subnet.id, connections: 16, scenario: "drain", strategy });
      const handedOut = reports.flatMap((report) => report.results.flat());
      expect(handedOut).toHaveLength(253);
      expect(new Set(handedOut).size).toBe(253);
      expect(handedOut).not.toContain(subnet.gateway);
      // Every one of the 32 clients stopped on the typed exhaustion error, nothing else.
      const exhausted = reports.reduce((sum, report) => sum + Number(report.errors.SUBNET_EXHAUSTED ?? 0), 0);
      expect(exhausted).toBe(32);
      expect(reports.map((report) => Object.keys(report.errors))).toEqual([["SUBNET_EXHAUSTED"], ["SUBNET_EXHAUSTED"]]);
      expect(await ipam.usage(subnet.id)).toMatchObject({ allocated: "253", free: "0" });
    },
  );

  it("a mix of specific, next, random, bulk, resize and release from 32 clients leaves exact state", async () => {
    const { ipam, db } = context;
    const subnet = await ipam.createSubnet({ cidr: "10.81.0.0/25", reserved: ["10.81.0.64/28"] });
    const specific = Array.from({ length: 20 }, (_, i) => `10.81.0.${100 + i}`);
    const reports = await runWorkers<{ id: string; addresses: string[] }[]>(2, {
      databaseUrl: db.url, subnetId: subnet.id, connections: 16, scenario: "mix", operations: 20, specific,
    });
    const held = reports.flatMap((report) => report.results.flat());
    const heldAddresses = held.flatMap((allocation) => allocation.addresses);
    // What the clients believe they hold is disjoint and is exactly what the database holds.
    expect(new Set(heldAddresses).size).toBe(heldAddresses.length);
    const stored = await ipam.listAllocations({ subnetId: subnet.id }, { limit: 1000 });
    expect(stored.allocations.map((a) => a.id).sort()).toEqual(held.map((a) => a.id).sort());
    expect(stored.allocations.flatMap((a) => a.addresses).sort()).toEqual([...heldAddresses].sort());
    for (const address of heldAddresses) expect(Number(address.split(".")[3]) < 64 || Number(address.split(".")[3]) >= 80).toBe(true);
    const codes = new Set(reports.flatMap((report) => Object.keys(report.errors)));
    for (const code of codes) expect(["ADDRESS_IN_USE", "SUBNET_EXHAUSTED"]).toContain(code);
    const { stored: index, expected } = await freeIndexComparison(db.url, await ipam.getSubnet(subnet.id));
    expect(index).toEqual(expected);
  });

  it("pool updates while 32 clients allocate keep the free index exact", async () => {
    const { ipam, db } = context;
    const subnet = await ipam.createSubnet({ cidr: "10.82.0.0/24" });
    const poolSets = [
      [{ start: "10.82.0.10", end: "10.82.0.99" }],
      [{ start: "10.82.0.50", end: "10.82.0.199" }],
      [{ start: "10.82.0.5", end: "10.82.0.20" }, { start: "10.82.0.200", end: "10.82.0.250" }],
    ];
    const reports = await runWorkers<{ id: string; addresses: string[] }[]>(2, {
      databaseUrl: db.url, subnetId: subnet.id, connections: 16, scenario: "mix", operations: 15, poolSets, specific: ["10.82.0.30", "10.82.0.60"],
    });
    const held = reports.flatMap((report) => report.results.flat()).flatMap((allocation) => allocation.addresses);
    expect(new Set(held).size).toBe(held.length);
    const final = await ipam.getSubnet(subnet.id);
    const { stored, expected } = await freeIndexComparison(db.url, final);
    expect(stored).toEqual(expected);
    const usage = await ipam.usage(subnet.id);
    expect(Number(usage.allocated)).toBe(held.length);
  });
});

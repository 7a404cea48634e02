import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ipam } from "../../provider/store/index.js";
import { checkInvariants } from "../helpers/invariants.js";
import { pgbouncerBinary, POOL_SIZE, startPgBouncer, type PgBouncer } from "../helpers/pgbouncer.js";
import { createStormSubnets, runStorm, withApplicationName } from "../helpers/storm.js";
import { adminDatabaseUrl, createTestDatabase, type TestDatabase } from "../helpers/testDatabase.js";

const binary = pgbouncerBinary();
const required = process.env.CI === "true";
if (binary === null && !required) {
  console.log("pgbouncer is not installed: skipping the PgBouncer tests here (CI installs it: apt-get install pgbouncer)");
}

describe.skipIf(binary === null && !required)("PgBouncer in transaction pooling mode", () => {
  let db: TestDatabase;
  let bouncer: PgBouncer;
  let ipam: Ipam;

  beforeAll(async () => {
    if (binary === null) throw new Error("pgbouncer is not installed but CI=true: .ci/run installs it with `apt-get install pgbouncer`");
    db = await createTestDatabase("bouncer");
    bouncer = await startPgBouncer(binary, adminDatabaseUrl());
    // Migrations run through PgBouncer too: each is one transaction on one server connection.
    ipam = await Ipam.open({ databaseUrl: bouncer.url(db.name), maxConnections: 4 });
  });
  afterAll(async () => {
    await ipam?.close();
    await bouncer?.stop();
    await db?.drop();
  });

  it("64 clients in 4 processes share 8 server connections: every invariant holds, no startup-parameter errors", async () => {
    const subnets = await createStormSubnets(ipam, "bouncer", 65);
    const label = "storm-bouncer";
    const outcome = await runStorm({
      databaseUrl: withApplicationName(bouncer.url(db.name), label),
      subnets,
      label,
      beforeGo: async () => {
        const clients = (await bouncer.show("CLIENTS")).filter((client) => client.database === db.name && client.application_name === label);
        expect(clients).toHaveLength(64);
      },
    });
    const servers = (await bouncer.show("SERVERS")).filter((server) => server.database === db.name);
    expect(servers.length).toBeGreaterThan(0);
    expect(servers.length).toBeLessThanOrEqual(POOL_SIZE);

    expect(outcome.unexpected).toEqual([]);
    expect(Object.keys(outcome.errors).filter((code) => code !== "ADDRESS_IN_USE" && code !== "SUBNET_EXHAUSTED")).toEqual([]);
    for (const kind of ["next", "random", "specific", "bulk", "idempotent", "shrink", "grow", "release", "pools"]) {
      expect(outcome.ops[kind] ?? 0, kind).toBeGreaterThan(5);
    }
    expect((await checkInvariants(db.url, { subnetIds: subnets.map((s) => s.id) })).violations).toEqual([]);
    for (const [key, ids] of outcome.idempotent) expect([...ids], key).toHaveLength(1);
    const stored = (await Promise.all(subnets.map((s) => ipam.listAllocations({ subnetId: s.id }, { limit: 1000 })))).flatMap((page) => page.allocations);
    const keyed = new Set([...outcome.idempotent.values()].flatMap((ids) => [...ids]));
    expect(stored.filter((a) => !keyed.has(a.id)).map((a) => a.id).sort()).toEqual(outcome.held.map((a) => a.id).sort());

    const log = await bouncer.log();
    expect(log).not.toMatch(/unsupported startup parameter/i);
    expect(log).not.toMatch(/prepared statement .* does not exist/i);
  });

  it("negative control: a client sending a startup parameter (here statement_timeout) is refused, and the log says so", async () => {
    const client = new pg.Client({ connectionString: bouncer.url(db.name), statement_timeout: 1_000 });
    client.on("error", () => undefined);
    await expect(client.connect()).rejects.toThrow(/unsupported startup parameter/i);
    await client.end().catch(() => undefined);
    expect(await bouncer.log()).toMatch(/unsupported startup parameter/i);
  });
});

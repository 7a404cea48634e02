import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Ipam } from "../../provider/store/index.js";
import { runCli } from "../helpers/cliRunner.js";
import { createLeastPrivilegeDatabase } from "../helpers/leastPrivilegeDatabase.js";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.js";

/**
 * Issue 23, the write fence (migration 0011) on one server: a rewritten fence row is what a
 * logical restore leaves behind (pg_dump/pg_restore re-inserts it; test/restore/logicalRestore.test.ts
 * does the real thing). Writes fail closed, reads work, `ipam db accept-restore` re-opens them.
 */
let db: TestDatabase;
let ipam: Ipam;
let admin: pg.Client;
let subnetId: string;

beforeAll(async () => {
  db = await createTestDatabase("fence23");
  ipam = await Ipam.open({ databaseUrl: db.url });
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  subnetId = (await ipam.createSubnet({ cidr: "10.230.0.0/24" })).id;
});
afterAll(async () => {
  await admin?.end();
  await ipam?.close();
  await db?.drop();
});

const cli = (args: string[]) => runCli(args, { IPAM_DATABASE_URL: db.url });
const allocate = (owner: string) => ipam.allocate({ subnetId, owner });

it("freezing the fence row (VACUUM FREEZE keeps xmin) leaves writes open", async () => {
  await admin.query("VACUUM (FREEZE) ipam.write_fence");
  await expect(allocate("after-freeze")).resolves.toMatchObject({ created: true });
  expect(JSON.parse((await cli(["db", "fence", "--json"])).stdout)).toMatchObject({ writable: true, problem: null, policy: "manual" });
});

it("a rewritten fence refuses every write and nothing is handed out; reads work; accept-restore re-opens once and moves ids on", async () => {
  const before = await allocate("before");
  const { rows: counted } = await admin.query("SELECT count(*)::int AS n FROM ipam.allocated_address");
  await admin.query("UPDATE ipam.write_fence SET recorded_by = recorded_by");

  await expect(allocate("refused")).rejects.toMatchObject({ code: "DATABASE_RESTORED", message: expect.stringMatching(/logical backup.*ipam reconcile/s) });
  await expect(ipam.allocate({ subnetId, owner: "refused", strategy: "random" })).rejects.toMatchObject({ code: "DATABASE_RESTORED" });
  await expect(ipam.release(before.allocation.id)).rejects.toMatchObject({ code: "DATABASE_RESTORED" });
  await expect(ipam.createSubnet({ cidr: "10.231.0.0/24" })).rejects.toMatchObject({ code: "DATABASE_RESTORED" });
  expect((await admin.query("SELECT count(*)::int AS n FROM ipam.allocated_address")).rows[0].n).toBe(counted[0].n);
  // Reads keep working.
  expect((await ipam.getAllocation(before.allocation.id)).addresses).toEqual(before.allocation.addresses);
  expect((await ipam.usage(subnetId)).allocated).toBe(String(counted[0].n));

  const status = await cli(["db", "fence", "--json"]);
  expect(JSON.parse(status.stdout)).toMatchObject({ writable: false, problem: { kind: "copied" } });
  const policy = await cli(["db", "failover-policy", "synchronous"]);
  expect(policy.code).toBe(1);
  expect(policy.stderr).toMatch(/refuses writes/);

  const accepted = await cli(["db", "accept-restore", "--json"]);
  expect(accepted.code, accepted.stderr).toBe(0);
  expect(JSON.parse(accepted.stdout)).toMatchObject({ detected: { kind: "copied" }, reopened: true });
  const after = await allocate("after");
  expect(BigInt(after.allocation.id) - BigInt(before.allocation.id)).toBeGreaterThan(2n ** 32n);
  expect(await cli(["db", "accept-restore"])).toMatchObject({ code: 0, stdout: expect.stringMatching(/nothing was detected/) });
  const { rows: audited } = await admin.query("SELECT detail FROM ipam.audit_event WHERE action = 'database.accept-restore' ORDER BY id");
  expect(audited.map((row) => row.detail.detected?.kind ?? null)).toEqual(["copied", null]);
});

it("the failover policy is set and audited while writes are open", async () => {
  const set = await cli(["db", "failover-policy", "synchronous"]);
  expect(set.code, set.stderr).toBe(0);
  expect(JSON.parse((await cli(["db", "fence", "--json"])).stdout)).toMatchObject({ writable: true, policy: "synchronous" });
  await expect(allocate("still-open")).resolves.toMatchObject({ created: true });
  expect((await cli(["db", "failover-policy", "sometimes"])).code).toBe(1);
});

it("the least-privilege role reads the fence but can neither re-open writes nor rewrite the fence", async () => {
  const app = await createLeastPrivilegeDatabase("fenceapp");
  try {
    const owner = new pg.Client({ connectionString: app.url });
    const login = new pg.Client({ connectionString: app.appUrl });
    await owner.connect();
    await login.connect();
    try {
      await owner.query("UPDATE ipam.write_fence SET recorded_by = recorded_by");
      const asApp = (args: string[]) => runCli(args, { IPAM_DATABASE_URL: app.appUrl });
      expect(JSON.parse((await asApp(["db", "fence", "--json"])).stdout)).toMatchObject({ writable: false, problem: { kind: "copied" } });
      const refused = await asApp(["db", "accept-restore"]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/schema owner/);
      for (const statement of ["SELECT ipam.record_write_fence('app')", "UPDATE ipam.write_fence SET failover_policy = 'synchronous'", "SELECT ipam.advance_ids_past(0, 0)"]) {
        await expect(login.query(statement), statement).rejects.toMatchObject({ code: "42501" });
      }
      expect(JSON.parse((await asApp(["db", "fence", "--json"])).stdout)).toMatchObject({ writable: false });
    } finally {
      await login.end();
      await owner.end();
    }
  } finally {
    await app.drop();
  }
});

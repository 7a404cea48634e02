import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Ipam } from "../../provider/store/index.js";
import { runCli } from "../helpers/cliRunner.js";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.js";

/**
 * Issue 23, hold-down of child prefixes (migration 0014): a child deleted from a parent with
 * releaseHoldSeconds leaves its block held, so no next child (first-fit, best-fit, a specific CIDR)
 * and no address picked in the parent lands in it until the hold expires. Time moves on the
 * database's clock: the test sets held_until into the past instead of sleeping.
 */
let db: TestDatabase;
let ipam: Ipam;
let admin: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase("childhold27");
  ipam = await Ipam.open({ databaseUrl: db.url });
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
});
afterAll(async () => {
  await admin?.end();
  await ipam?.close();
  await db?.drop();
});

const expireBlocks = (parentId: string) => admin.query("UPDATE ipam.held_block SET held_until = now() - interval '1 second' WHERE parent_id = $1", [Number(parentId)]);
const code = (promise: Promise<unknown>) => promise.then(() => "ok", (error: { code?: string; message?: string }) => `${error.code}: ${error.message}`);

it("a released child prefix is not carved again nor handed out as addresses until its hold expires, and is shown held with the time left", async () => {
  const parent = await ipam.createSubnet({ cidr: "10.27.0.0/24", namespace: "hold", releaseHoldSeconds: 300 });
  const a = await ipam.createSubnet({ parentId: parent.id, prefixLength: 25 });
  const b = await ipam.createSubnet({ parentId: parent.id, prefixLength: 25 });
  expect([a.cidr, b.cidr]).toEqual(["10.27.0.0/25", "10.27.0.128/25"]);
  expect(await ipam.deleteSubnet(a.id)).toEqual({ deleted: true });

  // Neither a next child (first-fit, best-fit) nor the same CIDR by name, nor an address of the parent.
  expect(await code(ipam.createSubnet({ parentId: parent.id, prefixLength: 26 }))).toMatch(/^SUBNET_EXHAUSTED/);
  expect(await code(ipam.createSubnet({ parentId: parent.id, prefixLength: 26, strategy: "best-fit" }))).toMatch(/^SUBNET_EXHAUSTED/);
  const named = await code(ipam.createSubnet({ parentId: parent.id, cidr: "10.27.0.0/25" }));
  expect(named).toMatch(new RegExp(`^ADDRESS_HELD: .*10\\.27\\.0\\.0/25 \\(released by child ${a.id}.*held for \\d+ s more`));
  expect(await code(ipam.allocate({ subnetId: parent.id, owner: "stack/x" }))).toMatch(/^SUBNET_EXHAUSTED/);
  expect(await code(ipam.allocate({ subnetId: parent.id, owner: "stack/x", strategy: "random" }))).toMatch(/^SUBNET_EXHAUSTED/);
  expect(await code(ipam.allocate({ subnetId: parent.id, owner: "stack/x", address: "10.27.0.5" }))).toMatch(/^ADDRESS_HELD: .*10\.27\.0\.5 \(in 10\.27\.0\.0\/25, released by child/);

  const report = await ipam.usageReport(parent.id);
  expect(report.heldBlocks).toEqual([{ cidr: "10.27.0.0/25", childId: a.id, heldUntil: expect.any(String), secondsLeft: expect.any(Number) }]);
  expect(report.heldBlocks![0]!.secondsLeft).toBeGreaterThan(0);
  expect(report.heldBlocks![0]!.secondsLeft).toBeLessThanOrEqual(300);
  // No room for children while the block is held (the other half is child b).
  expect(report.usage.childSpaceFree).toBe("0");
  const env = { IPAM_DATABASE_URL: db.url };
  const show = await runCli(["subnet", "show", parent.id], env);
  expect(show.code, show.stderr).toBe(0);
  expect(show.stdout).toMatch(new RegExp(`10\\.27\\.0\\.0/25\\s*│\\s*held\\s*│\\s*\\d+ s\\s*│\\s*child subnet ${a.id}\\s`));
  const usage = await runCli(["usage", "--namespace", "hold"], env);
  expect(usage.code, usage.stderr).toBe(0);
  expect(usage.stdout).toMatch(new RegExp(`child prefix 10\\.27\\.0\\.0/25\\s*│\\s*held, \\d+ s left\\s*│\\s*child subnet ${a.id}\\s`));

  // The hold expires (database clock): the next address pick returns the block, and the next child is carved around it.
  await expireBlocks(parent.id);
  expect((await ipam.allocate({ subnetId: parent.id, owner: "stack/x" })).allocation.addresses).toEqual(["10.27.0.1"]);
  expect((await ipam.createSubnet({ parentId: parent.id, prefixLength: 26 })).cidr).toBe("10.27.0.64/26");
  expect((await ipam.usageReport(parent.id)).heldBlocks).toEqual([]);
});

it("best-fit in a children-only parent skips a held block until it expires; a parent without a hold carves the block again at once", async () => {
  const pool = await ipam.createSubnet({ cidr: "10.28.0.0/24", namespace: "hold", childrenOnly: true, releaseHoldSeconds: 300 });
  const children = [];
  for (let i = 0; i < 4; i++) children.push(await ipam.createSubnet({ parentId: pool.id, prefixLength: 26, strategy: "best-fit" }));
  expect(children.map((c) => c.cidr)).toEqual(["10.28.0.0/26", "10.28.0.64/26", "10.28.0.128/26", "10.28.0.192/26"]);
  await ipam.deleteSubnet(children[1]!.id);
  expect(await code(ipam.createSubnet({ parentId: pool.id, prefixLength: 27, strategy: "best-fit" }))).toMatch(/^SUBNET_EXHAUSTED/);
  // A layout change while held (a reserved address inside the held block) keeps the block out: the free blocks are rebuilt around it.
  await ipam.updateSubnet(pool.id, { reserved: ["10.28.0.70"] });
  expect(await code(ipam.createSubnet({ parentId: pool.id, prefixLength: 28, strategy: "best-fit" }))).toMatch(/^SUBNET_EXHAUSTED/);
  await expireBlocks(pool.id);
  expect((await ipam.createSubnet({ parentId: pool.id, prefixLength: 27, strategy: "best-fit" })).cidr).toBe("10.28.0.96/27");

  const plain = await ipam.createSubnet({ cidr: "10.29.0.0/24", namespace: "hold" });
  const first = await ipam.createSubnet({ parentId: plain.id, prefixLength: 25 });
  await ipam.deleteSubnet(first.id);
  expect((await ipam.createSubnet({ parentId: plain.id, prefixLength: 25 })).cidr).toBe(first.cidr);
  expect((await admin.query("SELECT count(*)::int AS n FROM ipam.held_block WHERE parent_id = $1", [Number(plain.id)])).rows[0].n).toBe(0);
});

import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Ipam } from "../../provider/store/index.js";
import { createLeastPrivilegeDatabase, type LeastPrivilegeDatabase } from "../helpers/leastPrivilegeDatabase.js";
import { statementsAs } from "../helpers/statementsAs.js";

// Issue 23 on top of migration 0012: a held child block (held_block, migration 0014) is one of the
// truths the free index is derived from, so a row the application role wrote for a free block would
// keep it out of the parent's free blocks and free ranges at the next derivation (which the role may
// itself call), with no audit row. A held block is accepted only for a child block its own
// transaction released (the child's delete and the parent's child.return), no longer than the
// parent's hold; an import may carry one. Every attack runs as a login in ipam_app, beside
// freeSpaceTampering.test.ts (the free-range and held-address attacks).

let db: LeastPrivilegeDatabase;
let admin: pg.Client;
let app: pg.Client;
let ipam: Ipam;

beforeAll(async () => {
  db = await createLeastPrivilegeDatabase("heldblock");
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  app = new pg.Client({ connectionString: db.appUrl });
  await app.connect();
  ipam = await Ipam.open({ databaseUrl: db.appUrl });
});
afterAll(async () => {
  await ipam?.close();
  await app?.end();
  await admin?.end();
  await db?.drop();
});

const asApp = (statements: [string, unknown[]][]) => statementsAs(app, statements);
const REFUSED = { code: "23514", constraint: "held_block_released" };

const insertHold = (parentId: string, cidr: string, childId: string, until = "now() + interval '1 minute'"): [string, unknown[]] => [
  `INSERT INTO ipam.held_block (parent_id, cidr, first_ordinal, last_ordinal, held_until, child_id)
   VALUES ($1, $2::cidr, ipam.inet_to_ordinal(network($2::cidr)), ipam.inet_to_ordinal(broadcast($2::cidr)), ${until}, $3)`,
  [parentId, cidr, childId],
];
const rederive = (parentId: string): [string, unknown[]][] => [
  ["SELECT ipam.rebuild_free_blocks($1)", [parentId]],
  ["SELECT ipam.rebuild_free_ranges($1)", [parentId]],
];
const heldRows = async (parentId: string) =>
  (await admin.query<{ cidr: string }>("SELECT cidr::text AS cidr FROM ipam.held_block WHERE parent_id = $1 ORDER BY cidr", [parentId])).rows.map((row) => row.cidr);

it("ipam_app's forged held block over free space is refused, with or without a child deleted earlier; the next child still gets that block", async () => {
  const parent = await ipam.createSubnet({ cidr: "10.93.0.0/16", namespace: "heldblock", releaseHoldSeconds: 60, defaultPrefixLength: 24 });
  const first = await ipam.createSubnet({ parentId: parent.id });
  const gone = await ipam.createSubnet({ parentId: parent.id });
  expect([first.cidr, gone.cidr]).toEqual(["10.93.0.0/24", "10.93.1.0/24"]);
  // A real release in an earlier transaction: its hold is genuine, and its child id is no licence later.
  expect(await ipam.deleteSubnet(gone.id)).toEqual({ deleted: true });
  expect(await heldRows(parent.id)).toEqual(["10.93.1.0/24"]);

  // A child id that never existed, and the child deleted in an earlier transaction.
  expect(await asApp([insertHold(parent.id, "10.93.2.0/24", "999999"), ...rederive(parent.id)])).toMatchObject(REFUSED);
  expect(await asApp([insertHold(parent.id, "10.93.2.0/24", gone.id), ...rederive(parent.id)])).toMatchObject(REFUSED);
  // The whole rest of the parent at once.
  expect(await asApp([insertHold(parent.id, "10.93.128.0/17", gone.id), ...rederive(parent.id)])).toMatchObject(REFUSED);
  expect(await heldRows(parent.id)).toEqual(["10.93.1.0/24"]);

  // The free block after the real hold is still offered first.
  expect((await ipam.createSubnet({ parentId: parent.id })).cidr).toBe("10.93.2.0/24");
  expect((await ipam.allocate({ subnetId: parent.id, owner: "heldblock/next" })).allocation.addresses).toEqual(["10.93.3.0"]);
});

it("a real held block stretched, moved or lengthened is refused; ending it early and deleting it stay allowed", async () => {
  const parent = await ipam.createSubnet({ cidr: "10.94.0.0/16", namespace: "heldblock", childrenOnly: true, releaseHoldSeconds: 60, defaultPrefixLength: 24 });
  const child = await ipam.createSubnet({ parentId: parent.id });
  await ipam.deleteSubnet(child.id);
  expect(await heldRows(parent.id)).toEqual(["10.94.0.0/24"]);
  for (const attack of [
    // Stretched over its free neighbours (the ordinals follow, so the row stays self-consistent).
    "UPDATE ipam.held_block SET cidr = '10.94.0.0/17', last_ordinal = ipam.inet_to_ordinal('10.94.127.255') WHERE parent_id = $1",
    // Only the ordinals stretched: the CIDR no longer says what is held.
    "UPDATE ipam.held_block SET last_ordinal = ipam.inet_to_ordinal('10.94.255.255') WHERE parent_id = $1",
    // Moved onto a free block.
    "UPDATE ipam.held_block SET cidr = '10.94.5.0/24', first_ordinal = ipam.inet_to_ordinal('10.94.5.0'), last_ordinal = ipam.inet_to_ordinal('10.94.5.255') WHERE parent_id = $1",
    // Held longer than the parent's hold.
    "UPDATE ipam.held_block SET held_until = now() + interval '10 years' WHERE parent_id = $1",
  ]) {
    expect(await asApp([[attack, [parent.id]], ...rederive(parent.id)]), attack).toMatchObject(REFUSED);
  }
  expect((await ipam.createSubnet({ parentId: parent.id })).cidr).toBe("10.94.1.0/24");
  // Nearer is allowed (an operator ending a hold early), and so is deleting it: both give space back.
  expect(await asApp([["UPDATE ipam.held_block SET held_until = now() WHERE parent_id = $1", [parent.id]]])).toBe("accepted");
  expect(await asApp([["DELETE FROM ipam.held_block WHERE parent_id = $1", [parent.id]], ...rederive(parent.id)])).toBe("accepted");
  expect((await ipam.createSubnet({ parentId: parent.id })).cidr).toBe("10.94.0.0/24");
});

it("a child deleted in the same transaction licenses a hold on its own block only, for no longer than the parent's hold; an import may carry one", async () => {
  const parent = await ipam.createSubnet({ cidr: "10.95.0.0/16", namespace: "heldblock", childrenOnly: true, releaseHoldSeconds: 60, defaultPrefixLength: 24 });
  const child = await ipam.createSubnet({ parentId: parent.id });
  const other = await ipam.createSubnet({ cidr: "10.96.0.0/16", namespace: "heldblock", childrenOnly: true, releaseHoldSeconds: 60 });
  const deleteChild: [string, unknown[]] = ["DELETE FROM ipam.subnet WHERE id = $1", [child.id]];
  // Its delete, then a hold on another block of the parent, or on the same block under another parent.
  expect(await asApp([deleteChild, insertHold(parent.id, "10.95.7.0/24", child.id)])).toMatchObject(REFUSED);
  expect(await asApp([deleteChild, insertHold(other.id, "10.96.0.0/24", child.id)])).toMatchObject(REFUSED);
  expect(await asApp([deleteChild, insertHold(parent.id, child.cidr, child.id, "now() + interval '1 day'")])).toMatchObject(REFUSED);
  // The release itself is accepted (the store's own path, written out), and holds its block.
  expect(await asApp([deleteChild, insertHold(parent.id, child.cidr, child.id), ["SELECT ipam.return_child_space($1, $2::cidr)", [parent.id, child.cidr]]])).toBe("accepted");
  expect(await heldRows(parent.id)).toEqual([child.cidr]);
  expect((await ipam.createSubnet({ parentId: parent.id })).cidr).toBe("10.95.1.0/24");

  // The schema owner in an import (0010's hint) may carry holds; the application role may not.
  const hint: [string, unknown[]] = ["SELECT set_config('ipam.audit_action', 'import', true)", []];
  expect(await asApp([hint, insertHold(other.id, "10.96.1.0/24", child.id)])).toMatchObject(REFUSED);
  expect(await statementsAs(admin, [hint, insertHold(other.id, "10.96.1.0/24", child.id)])).toBe("accepted");
  expect(await heldRows(other.id)).toEqual(["10.96.1.0/24"]);
});

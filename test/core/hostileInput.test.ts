import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IpamError, InvalidInputError } from "../../provider/core/errors.js";
import { Ipam } from "../../provider/store/index.js";
import { databaseFingerprint } from "../helpers/databaseFingerprint.js";
import { createHostileFixture, hostileCases, runHostileCase, type HostileFixture } from "../helpers/hostileCases.js";
import { checkInvariants } from "../helpers/invariants.js";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.js";

let db: TestDatabase;
let ipam: Ipam;
let admin: pg.Client;
let fixture: HostileFixture;
let subnetId: string;

beforeAll(async () => {
  db = await createTestDatabase("hostile");
  ipam = await Ipam.open({ databaseUrl: db.url });
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  fixture = await createHostileFixture(ipam);
  subnetId = fixture.subnetId;
});
afterAll(async () => {
  await admin?.end();
  await ipam?.close();
  await db?.drop();
});


describe("hostile input: each gets INVALID_INPUT naming the field, nothing is written, nothing crashes", () => {
  it.each(hostileCases())("$what → $field", async (hostile) => {
    const { field } = hostile;
    const before = await databaseFingerprint(admin);
    const error = await runHostileCase(ipam, hostile, fixture).then(
      (value) => ({ unexpectedSuccess: value }),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidInputError);
    const { issues, message, code } = error as InvalidInputError;
    expect(code).toBe("INVALID_INPUT");
    // Tag keys are part of the path (tags.<key>), so a field matches itself or anything under it.
    const named = issues.map((issue) => issue.field).filter((name) => name === field || name.startsWith(`${field}.`));
    expect(named, JSON.stringify(issues)).not.toEqual([]);
    expect(message).toContain(`${named[0]}: `);
    expect(message.length).toBeLessThan(2_000); // a 100,000-character input is not echoed back
    expect(message).not.toMatch(/\p{Surrogate}/u); // well-formed: it travels as UTF-8 (gRPC, logs)
    expect(await databaseFingerprint(admin)).toEqual(before);
  });

  it("the allocator still works afterwards and every invariant holds", async () => {
    const { allocation } = await ipam.allocate({ subnetId, owner: "after-hostile" });
    expect(allocation.addresses).toHaveLength(1);
    expect((await checkInvariants(db.url)).violations).toEqual([]);
  });
});

describe("text that only looks hostile is stored and returned exactly as given", () => {
  const texts = [
    "'); DROP TABLE ipam.subnet; --",
    "$1 $$ \\' \\\\ %s %n {{7*7}} ${process.env} `rm -rf`",
    "😀 👩‍👩‍👧 \u202Eevil\u202C Ω≈ç√∫ 日本語 e\u0301",
    "line\r\nbreak\ttab \u001b[31mred\u001b[0m",
    "<script>alert(1)</script>",
  ];

  it.each(texts)("description, tags, owner and idempotency key: %j", async (text) => {
    const namespace = `verbatim-${texts.indexOf(text)}`;
    const tags = { [text.slice(0, 100)]: text.slice(0, 200), constructor: "c", toString: "t" };
    const subnet = await ipam.createSubnet({ cidr: "10.200.0.0/29", namespace, description: text, tags });
    expect((await ipam.getSubnet(subnet.id)).description).toBe(text);
    expect((await ipam.getSubnet(subnet.id)).tags).toEqual(tags);
    const { allocation } = await ipam.allocate({ subnetId: subnet.id, owner: text.slice(0, 256), idempotencyKey: text.slice(0, 256), description: text, tags });
    const stored = await ipam.getAllocation(allocation.id);
    expect({ owner: stored.owner, key: stored.idempotencyKey, description: stored.description, tags: stored.tags }).toEqual({
      owner: text.slice(0, 256),
      key: text.slice(0, 256),
      description: text,
      tags,
    });
    expect((await ipam.findAllocationByKey(subnet.id, text.slice(0, 256)))?.id).toBe(allocation.id);
    expect((await ipam.listAllocations({ owner: text.slice(0, 256) })).allocations.map((a) => a.id)).toEqual([allocation.id]);
    const audit = await admin.query<{ owner: string }>("SELECT owner FROM ipam.audit_event WHERE allocation_id = $1", [allocation.id]);
    expect(audit.rows.map((row) => row.owner)).toEqual([text.slice(0, 256)]);
    expect(await admin.query("SELECT 1 FROM ipam.subnet LIMIT 1")).toMatchObject({ rowCount: 1 }); // still there
  });
});

describe("every failure is an IpamError", () => {
  it("not-found and conflicts are typed too", async () => {
    await expect(ipam.getSubnet("2147483647")).rejects.toBeInstanceOf(IpamError);
    await expect(ipam.allocate({ subnetId: "2147483647", owner: "o" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(ipam.allocate({ subnetId, owner: "o", address: "10.0.0.99" })).rejects.toMatchObject({ code: "ADDRESS_IN_USE" });
  });
});

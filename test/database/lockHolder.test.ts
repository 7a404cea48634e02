import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ipam, type IpamError } from "../../provider/store/index.js";
import { IPAM_LOCK_CLASS } from "../../provider/store/database/lockKeys.js";
import { createLeastPrivilegeDatabase, type LeastPrivilegeDatabase } from "../helpers/leastPrivilegeDatabase.js";

// Issue 13 item 11: any login to the database can take a subnet's advisory lock and keep it
// (SELECT pg_advisory_lock(class, id) outside a transaction), and every allocator of that subnet
// then fails with LOCK_TIMEOUT. The error must name the holder so an operator can end it.

let db: LeastPrivilegeDatabase;
let ipam: Ipam;

beforeAll(async () => {
  db = await createLeastPrivilegeDatabase("lockholder");
  ipam = await Ipam.open({ databaseUrl: db.appUrl, lockTimeoutMs: 300 });
});
afterAll(async () => {
  await ipam?.close();
  await db?.drop();
});

/** A session of `url` holding subnet `id`'s lock at session level, as a careless or hostile client would. */
async function squat(url: string, applicationName: string, id: string): Promise<{ client: pg.Client; pid: number }> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName });
  await client.connect();
  await client.query("SELECT pg_advisory_lock($1, $2)", [IPAM_LOCK_CLASS, Number(id)]);
  const pid = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
  return { client, pid };
}

describe("LOCK_TIMEOUT names the session holding the subnet's lock", () => {
  it("on the next-free path and on a locked transaction, for a squatter using the same login", async () => {
    const subnet = await ipam.createSubnet({ cidr: "10.91.0.0/24", namespace: "locks" });
    const kept = (await ipam.allocate({ subnetId: subnet.id, owner: "locks/kept" })).allocation;
    const { client, pid } = await squat(db.appUrl, "forgotten-migration", subnet.id);
    try {
      for (const attempt of [
        () => ipam.allocate({ subnetId: subnet.id, owner: "locks/a" }),
        () => ipam.allocate({ subnetId: subnet.id, owner: "locks/b", count: 2 }),
        () => ipam.updateSubnet(subnet.id, { description: "x" }),
        // A release in one statement (migration 0023) takes the lock inside it, with or without the subnet given.
        () => ipam.release(kept.id, { subnetId: subnet.id }),
        () => ipam.release(kept.id),
      ]) {
        const error = (await attempt().catch((e: unknown) => e)) as IpamError & { holder?: unknown };
        expect(error).toMatchObject({ code: "LOCK_TIMEOUT", holder: { pid, applicationName: "forgotten-migration", user: db.login } });
        expect(error.message).toContain(`pid ${pid}`);
        expect(error.message).toContain('application_name "forgotten-migration"');
        expect(error.message).toMatch(/since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/);
        expect(error.message).toContain(`pg_terminate_backend(${pid})`);
        expect(error.message).not.toContain(db.password);
      }
    } finally {
      await client.end();
    }
    // Once the squatter is gone, the same request goes through; the timed-out releases changed nothing.
    expect((await ipam.getAllocation(kept.id)).addresses).toEqual(kept.addresses);
    expect((await ipam.allocate({ subnetId: subnet.id, owner: "locks/a" })).created).toBe(true);
  });

  it("names another role's session too (a superuser's), its application name quoted", async () => {
    const subnet = await ipam.createSubnet({ cidr: "10.92.0.0/24", namespace: "locks" });
    const { client, pid } = await squat(db.url, "ops\u001b[31mred", subnet.id);
    try {
      const error = (await ipam.allocate({ subnetId: subnet.id, owner: "locks/c" }).catch((e: unknown) => e)) as IpamError;
      expect(error).toMatchObject({ code: "LOCK_TIMEOUT", holder: { pid } });
      expect(error.message).toContain(`pid ${pid}`);
      expect(error.message).not.toContain("\u001b");
      // The server rewrites the ESC of application_name before storing it: PostgreSQL 15 as "?",
      // 16 and later as the text \x1b, which the message quotes JSON-style (backslash doubled).
      expect(error.message).toMatch(/application_name "ops(\?|\\\\x1b)\[31mred"/);
    } finally {
      await client.end();
    }
  });
});

describe("LockTimeoutError's text", () => {
  it("escapes C1 and bidirectional characters of a stored application name, and says when the time is hidden", async () => {
    const { LockTimeoutError } = await import("../../provider/core/errors.js");
    const message = new LockTimeoutError("7", undefined, { pid: 42, applicationName: "a\u202eb\u0085c", user: null, since: null }).message;
    expect(message).toContain('application_name "a\\u202eb\\u0085c"');
    expect(message).not.toMatch(/[\u202e\u0085]/u);
    expect(message).toContain("pg_read_all_stats");
    expect(new LockTimeoutError("7", undefined, null).message).toContain("no session held the lock");
  });
});

import { randomBytes } from "node:crypto";
import { inspect } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IpamError } from "../../provider/core/errors.js";
import { freePort } from "../../provider/localDatabase/embeddedServer.js";
import { Ipam, type IpamOptions } from "../../provider/store/index.js";
import { waitFor } from "../helpers/advisoryLocks.js";
import { holdAddressRow, holdSubnetLock } from "../helpers/sessionBlockers.js";
import { startWorker, workerScript } from "../helpers/workerProcess.js";
import { adminDatabaseUrl, createTestDatabase, type TestDatabase } from "../helpers/testDatabase.js";

const suffix = randomBytes(6).toString("hex");
const ROLE = `ipam_sentinel_${suffix}`;
// Two passwords: a plain one, and one that must be percent-encoded in a URL.
const SENTINEL = `S3ntinel-${suffix}`;
const SENTINEL_ODD = `S3nt!nel@#:/? ${suffix}`;

let db: TestDatabase;
let admin: pg.Client;
let urls: Record<string, string>;
let subnetId: string;

/** The secret in every form it might be printed in. */
function secretForms(): string[] {
  return [SENTINEL, SENTINEL_ODD, encodeURIComponent(SENTINEL_ODD), `S3nt!nel`, ...Object.values(urls)];
}

function leaks(text: string): string[] {
  return secretForms().filter((form) => text.includes(form));
}

/** Every way an error is commonly turned into text, down to causes that are not enumerable. */
function surfaces(error: unknown): Record<string, string> {
  const e = error as Error;
  return {
    message: String(e?.message),
    string: String(error),
    json: JSON.stringify(error) ?? "",
    stack: String(e?.stack),
    inspect: inspect(error, { depth: 10 }),
    inspectHidden: inspect(error, { depth: 10, showHidden: true }),
  };
}

/** Stored in a row, so that an error carrying row contents would show it. */
const ROW_SECRET = `R0wSecret-${suffix}`;

function expectClean(label: string, error: unknown): void {
  expect(error, label).toBeInstanceOf(IpamError);
  for (const [surface, text] of Object.entries(surfaces(error))) {
    expect(leaks(text), `${label}: the secret appears in ${surface}:\n${text.slice(0, 3000)}`).toEqual([]);
    // Nor SQL text or the contents of rows (slonik errors carry sql, values and row).
    expect(text.includes(ROW_SECRET) || /\bSELECT\b|\bINSERT INTO\b|\bFROM "?ipam/.test(text), `${label}: SQL or row data in ${surface}:\n${text.slice(0, 3000)}`).toBe(false);
  }
}

function urlFor(user: string, password: string, options: { port?: number; database?: string; query?: string } = {}): string {
  const base = new URL(db.url);
  return `postgres://${user}:${encodeURIComponent(password)}@${base.hostname}:${options.port ?? base.port}/${options.database ?? db.name}${options.query ?? ""}`;
}

beforeAll(async () => {
  db = await createTestDatabase("secrets");
  const setup = await Ipam.open({ databaseUrl: db.url });
  subnetId = (await setup.createSubnet({ cidr: "10.30.0.0/24" })).id;
  await setup.allocate({ subnetId, owner: "taken", address: "10.30.0.5", idempotencyKey: "k" });
  await setup.close();
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  await admin.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD '${SENTINEL}'`);
  await admin.query(`GRANT USAGE ON SCHEMA ipam TO ${ROLE}; GRANT ALL ON ALL TABLES IN SCHEMA ipam TO ${ROLE}; CREATE SCHEMA restricted; CREATE TABLE restricted.subnet (id int)`);
  urls = {
    good: urlFor(ROLE, SENTINEL),
    oddPassword: urlFor(ROLE, SENTINEL_ODD),
    missingRole: urlFor(`ipam_nobody_${suffix}`, SENTINEL),
    closedPort: urlFor(ROLE, SENTINEL, { port: await freePort() }),
    missingDatabase: urlFor(ROLE, SENTINEL, { database: `nodb_${suffix}` }),
    unsupportedSslMode: urlFor(ROLE, SENTINEL, { query: "?sslmode=verify-full" }),
    malformedPort: `postgres://${ROLE}:${SENTINEL}@127.0.0.1:notaport/${db.name}`,
    malformedUnencoded: `postgres://${ROLE}:${SENTINEL_ODD}@127.0.0.1:5432/${db.name}`,
  };
});
afterAll(async () => {
  await admin?.end();
  await db?.drop();
  const cleanup = new pg.Client({ connectionString: adminDatabaseUrl() });
  await cleanup.connect();
  await cleanup.query(`DROP ROLE IF EXISTS ${ROLE}`).catch(() => undefined);
  await cleanup.end();
});

async function failure(work: () => Promise<unknown>): Promise<unknown> {
  return work().then(
    (value) => {
      throw new Error(`expected a failure, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error,
  );
}

async function withIpam<T>(options: Partial<IpamOptions>, work: (ipam: Ipam) => Promise<T>): Promise<T> {
  const ipam = await Ipam.open({ databaseUrl: urls.good!, migrate: false, maxConnections: 3, ...options });
  try {
    return await work(ipam);
  } finally {
    await ipam.close();
  }
}

describe("secrets: a password in the connection URL never appears in an error", () => {
  it.each(["missingRole", "closedPort", "missingDatabase", "unsupportedSslMode", "malformedPort", "malformedUnencoded"])(
    "opening with a %s URL (with and without migrating)",
    async (name) => {
      for (const migrate of [true, false]) {
        const error = await failure(() => Ipam.open({ databaseUrl: urls[name]!, migrate }));
        expectClean(`${name}, migrate ${migrate}`, error);
      }
    },
  );

  it("a wrong password (refused where the server checks passwords)", async () => {
    const outcome = await Ipam.open({ databaseUrl: urlFor(ROLE, `${SENTINEL}-wrong`), migrate: false }).then(
      async (ipam) => {
        await ipam.close(); // a trust-authenticated server accepts any password: nothing to leak
        return null;
      },
      (error: unknown) => error,
    );
    if (outcome !== null) {
      expectClean("wrong password", outcome);
      expect(outcome).toMatchObject({ code: "DATABASE_UNAVAILABLE" });
    }
  });

  it("a password that needs percent-encoding works and never leaks", async () => {
    await admin.query(`ALTER ROLE ${ROLE} PASSWORD '${SENTINEL_ODD.replaceAll("'", "''")}'`);
    try {
      await withIpam({ databaseUrl: urls.oddPassword! }, async (ipam) => {
        expectClean("odd password, taken address", await failure(() => ipam.allocate({ subnetId, owner: "o", address: "10.30.0.5" })));
      });
    } finally {
      await admin.query(`ALTER ROLE ${ROLE} PASSWORD '${SENTINEL}'`);
    }
  });

  it("SQL errors, permission errors, unique violations, overlaps and idempotency mismatches", async () => {
    await withIpam({}, async (ipam) => {
      expectClean("taken address", await failure(() => ipam.allocate({ subnetId, owner: "o", address: "10.30.0.5" })));
      expectClean("idempotency mismatch", await failure(() => ipam.allocate({ subnetId, owner: "o", idempotencyKey: "k", strategy: "random" })));
      expectClean("overlap", await failure(() => ipam.createSubnet({ cidr: "10.30.0.0/25" })));
    });
    await withIpam({ schema: "missing_schema" }, async (ipam) => {
      const error = await failure(() => ipam.getSubnet("1"));
      expectClean("missing schema", error);
      expect(error).toMatchObject({ code: "DATABASE_ERROR" });
    });
    await withIpam({ schema: "restricted" }, async (ipam) => {
      const error = await failure(() => ipam.getSubnet("1"));
      expectClean("permission denied", error);
    });
    expectClean("migrating without rights", await failure(() => Ipam.open({ databaseUrl: urls.good!, schema: "not_allowed_here" })));
  });

  it("a row the code does not expect (a botched manual edit): the error carries no SQL and no row data", async () => {
    const setup = await Ipam.open({ databaseUrl: db.url, migrate: false });
    const tampered = await setup.createSubnet({ cidr: "10.31.0.0/24", description: ROW_SECRET });
    await setup.close();
    await admin.query(`UPDATE ipam.subnet SET tags = '{"k": 1}' WHERE id = $1`, [Number(tampered.id)]);
    await withIpam({}, async (ipam) => {
      const error = await failure(() => ipam.getSubnet(tampered.id));
      expect(error).toMatchObject({ code: "DATABASE_ERROR" });
      expect((error as Error).message).toContain("does not have the expected shape (tags.k)");
      expectClean("row schema mismatch", error);
    });
  });

  it("lock timeouts, statement timeouts and terminated connections", async () => {
    const blocker = await holdSubnetLock(db.url, subnetId);
    try {
      await withIpam({ lockTimeoutMs: 100 }, async (ipam) => {
        const error = await failure(() => ipam.allocate({ subnetId, owner: "o" }));
        expect(error).toMatchObject({ code: "LOCK_TIMEOUT" });
        expectClean("lock timeout", error);
      });
      await withIpam({}, async (ipam) => {
        const waiting = failure(() => ipam.allocate({ subnetId, owner: "o" }));
        await waitFor("the request to wait for the lock", async () => {
          // This file's database only: other files may be waiting on advisory locks of their own meanwhile.
          const { rows } = await admin.query(
            "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = $1",
            [db.name],
          );
          return rows[0]?.pid as number | undefined;
        });
        await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", [ROLE]);
        const error = await waiting;
        expect(error).toMatchObject({ code: "RETRYABLE" });
        expectClean("terminated", error);
      });
    } finally {
      await blocker.end();
    }
    // A statement stuck on a row another session holds runs into statement_timeout.
    const rowBlocker = await holdAddressRow(db.url, subnetId, "10.30.0.77");
    try {
      await withIpam({ lockTimeoutMs: 20_000, statementTimeoutMs: 150 }, async (ipam) => {
        const error = await failure(() => ipam.allocate({ subnetId, owner: "o", address: "10.30.0.77" }));
        expect(error).toMatchObject({ code: "STATEMENT_TIMEOUT" });
        expectClean("statement timeout", error);
      });
    } finally {
      await rowBlocker.end();
    }
  });

  it("a child process that logs every failure (and slonik's own logging, ROARR_LOG=true) prints no secret", async () => {
    const requests = [
      { method: "allocate", args: [{ subnetId, owner: "o", address: "10.30.0.5" }] },
      { method: "allocate", args: [{ subnetId, owner: "o", idempotencyKey: "k", strategy: "random" }] },
      { method: "createSubnet", args: [{ cidr: "10.30.0.0/25" }] },
      { method: "getSubnet", args: ["999"] },
    ];
    const outputs: string[] = [];
    for (const name of ["good", "missingRole", "closedPort", "malformedPort", "unsupportedSslMode"]) {
      const worker = startWorker<unknown[]>(workerScript("requestWorker.mjs"), { databaseUrl: urls[name], requests, migrate: name !== "good" }, { ...process.env, ROARR_LOG: "true" });
      await worker.ready;
      worker.go();
      const report = await worker.done;
      await worker.exited;
      expect(report.length, name).toBeGreaterThan(0);
      outputs.push(worker.output());
    }
    const all = outputs.join("\n");
    expect(all).toContain("failed:"); // the workers did log their failures
    expect(leaks(all), all.slice(0, 5000)).toEqual([]);
  });
});

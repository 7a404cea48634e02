import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { IpamError } from "../../provider/core/errors.js";
import { parseConnectionUrl } from "../../provider/store/database/connectionOptions.js";
import { Ipam, migrate } from "../../provider/store/index.js";
import { createTestDatabase } from "../helpers/testDatabase.js";

// Issue 22 item 5: with PGSSLMODE=require (or verify-full with PGSSLROOTCERT) in the environment
// and no sslmode in the URL, the pool and the migration client connected in plaintext to a server
// without TLS; psql and plain node-postgres refuse. libpq fills a parameter the URL leaves out from
// its variable: so must we, or refuse the variable by name. The run's server may or may not offer
// TLS, so "never plaintext" is checked as: the connection fails, or pg_stat_ssl says it is encrypted.

const saved = { ...process.env };
afterEach(() => {
  for (const name of Object.keys(process.env)) if (name.startsWith("PG") && !(name in saved)) delete process.env[name];
  Object.assign(process.env, saved);
});

/** Whether the sessions named `tag` (application_name) are encrypted, read by the run's administrator. */
async function encrypted(adminUrl: string, tag: string): Promise<boolean[]> {
  const admin = new pg.Client({ connectionString: adminUrl, ssl: false });
  await admin.connect();
  try {
    const rows = await admin.query<{ ssl: boolean }>("SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = $1", [tag]);
    return rows.rows.map((row) => row.ssl);
  } finally {
    await admin.end();
  }
}

describe("PGSSL* variables in the environment are honoured as libpq honours them", () => {
  it.each([
    ["PGSSLMODE=require", { PGSSLMODE: "require" }],
    ["PGSSLMODE=verify-full with PGSSLROOTCERT (an unrelated CA bundle)", { PGSSLMODE: "verify-full", PGSSLROOTCERT: "/etc/ssl/certs/ca-certificates.crt" }],
    ["PGREQUIRESSL=1", { PGREQUIRESSL: "1" }],
  ])("%s and a URL without sslmode: the pool never talks in plaintext", async (_what, variables) => {
    const db = await createTestDatabase("tlsenv");
    try {
      // Migrated first without the variables, so Ipam.open below only opens its pool.
      await migrate(db.url, "ipam");
      const tag = `tlsenv_${randomBytes(4).toString("hex")}`;
      const url = new URL(db.url);
      url.searchParams.set("application_name", tag);
      // The variables are set only while our clients connect: the test's own admin clients are plain node-postgres.
      const withVariables = async <T>(work: () => Promise<T>): Promise<T> => {
        Object.assign(process.env, variables);
        try {
          return await work();
        } finally {
          for (const name of Object.keys(variables)) delete process.env[name];
        }
      };
      const opened = await withVariables(() =>
        Ipam.open({ databaseUrl: url.toString() }).then(
          async (ipam) => {
            await ipam.listSubnets({});
            return ipam;
          },
          (error: unknown) => error,
        ),
      );
      if (opened instanceof Ipam) {
        try {
          const sessions = await encrypted(db.url, tag);
          expect(sessions.length).toBeGreaterThan(0);
          expect(sessions.every(Boolean), "a session of the pool is in plaintext").toBe(true);
        } finally {
          await opened.close();
        }
      } else {
        expect(opened).toBeInstanceOf(IpamError);
        expect((opened as IpamError).code).toBe("DATABASE_UNAVAILABLE");
      }
      // The migration client parses the same way (a schema of its own, so it has to connect and work).
      const migrated = await withVariables(() =>
        migrate(url.toString(), "ipam_tlsenv").then(
          () => "connected",
          (error: unknown) => error,
        ),
      );
      expect(migrated, "the migration client connected in plaintext").toBeInstanceOf(IpamError);
    } finally {
      await db.drop();
    }
  });

  it("the URL's own sslmode wins over PGSSLMODE, as in libpq", () => {
    process.env.PGSSLMODE = "require";
    expect(parseConnectionUrl("postgres://u@db.example/ipam?sslmode=disable")).toMatchObject({ sslMode: "disable", ssl: false });
    expect(parseConnectionUrl("postgres://u@db.example/ipam")).toMatchObject({ sslMode: "require", ssl: { rejectUnauthorized: false } });
  });

  it.each([
    ["PGSSLMODE", "prefer", /PGSSLMODE.*must be one of/],
    ["PGSSLCRL", "/etc/revoked.crl", /PGSSLCRL is set in the environment/],
    ["PGSSLMINPROTOCOLVERSION", "TLSv1.3", /PGSSLMINPROTOCOLVERSION is set in the environment/],
    ["PGREQUIRESSL", "yes", /PGREQUIRESSL/],
  ])("%s=%s is refused with a CONFIGURATION error naming it", (name, value, message) => {
    process.env[name] = value;
    let caught: unknown;
    try {
      parseConnectionUrl("postgres://u@db.example/ipam");
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(IpamError);
    expect((caught as IpamError).code).toBe("CONFIGURATION");
    expect((caught as IpamError).message).toMatch(message);
    if (value.startsWith("/")) expect((caught as IpamError).message).not.toContain(value);
  });

  it("harmless defaults (PGSSLSNI=1, PGSSLCOMPRESSION=0) are accepted", () => {
    Object.assign(process.env, { PGSSLSNI: "1", PGSSLCOMPRESSION: "0" });
    expect(parseConnectionUrl("postgres://u@db.example/ipam")).toMatchObject({ sslMode: "disable" });
  });
});

import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IpamError } from "../../provider/core/errors.js";
import { parseConnectionUrl, pgClientConfig } from "../../provider/store/database/connectionOptions.js";
import { Ipam, migrate } from "../../provider/store/index.js";
import { startProviderHost, urnOf } from "../../harness/providerHost.js";
import { serializedProviders } from "../../harness/serializedProviders.js";
import { startOwnedServer, writeServerFile, type OwnedServer } from "../helpers/ownedServer.js";

/**
 * Issue 13, item 2: one connection-option parser for every client (the migration client, the
 * pool, the provider), against a PostgreSQL that accepts TLS only (pg_hba has hostssl lines and no
 * host lines), with a CA the test makes. The server certificate names "localhost" only, so a
 * connection to 127.0.0.1 tells verify-ca (chain only) from verify-full (chain and name).
 */
let server: OwnedServer;
let certs: string;

function openssl(args: string[]): void {
  execFileSync("openssl", args, { cwd: certs, stdio: "ignore" });
}

/** A CA, a server certificate it signs for DNS:localhost, and an unrelated CA. */
async function makeCertificates(): Promise<void> {
  certs = await mkdtemp(join(tmpdir(), "ipam-tls-"));
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=ipam test CA"]);
  openssl(["req", "-x509", ...ec, "-keyout", "other.key", "-out", "other.crt", "-days", "2", "-subj", "/CN=some other CA"]);
  openssl(["req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]);
  await writeFile(join(certs, "ext.cnf"), "subjectAltName=DNS:localhost\n");
  openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf"]);
}

beforeAll(async () => {
  await makeCertificates();
  server = await startOwnedServer({
    settings: { ssl: "on", ssl_cert_file: "server.crt", ssl_key_file: "server.key" },
    prepare: async (dataDir, owner) => {
      await writeServerFile(join(dataDir, "server.crt"), await readFile(join(certs, "server.crt"), "utf8"), owner);
      await writeServerFile(join(dataDir, "server.key"), await readFile(join(certs, "server.key"), "utf8"), owner);
      await writeServerFile(join(dataDir, "pg_hba.conf"), "hostssl all all 127.0.0.1/32 scram-sha-256\nhostssl all all ::1/128 scram-sha-256\n", owner);
    },
  });
}, 120_000);
afterAll(async () => {
  await server?.stop();
  if (certs) await rm(certs, { recursive: true, force: true });
});

const ca = () => join(certs, "ca.crt");
const verifyFull = (database = "postgres") => server.url({ database, host: "localhost", query: `sslmode=verify-full&sslrootcert=${encodeURIComponent(ca())}` });

async function failure(work: () => Promise<unknown>): Promise<IpamError> {
  const error = await work().then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(IpamError);
  return error as IpamError;
}

/** The server's own view of a session: was it encrypted? (asked over a verify-full connection) */
async function sslOfSessions(database: string): Promise<boolean[]> {
  const client = new pg.Client(pgClientConfig(parseConnectionUrl(verifyFull())));
  await client.connect();
  try {
    const { rows } = await client.query<{ ssl: boolean }>(
      "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = $1",
      [database],
    );
    return rows.map((row) => row.ssl);
  } finally {
    await client.end();
  }
}

async function createDatabase(name: string): Promise<void> {
  const client = new pg.Client(pgClientConfig(parseConnectionUrl(verifyFull())));
  await client.connect();
  await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  await client.end();
}

describe("TLS: one parser for every client, against a TLS-only server", () => {
  it("sslmode=verify-full with the test's CA: migrations (pg) and the pool (slonik) both connect encrypted, and work", async () => {
    await createDatabase("tls_full");
    const ipam = await Ipam.open({ databaseUrl: verifyFull("tls_full") });
    try {
      const subnet = await ipam.createSubnet({ cidr: "10.9.0.0/24" });
      const { allocation } = await ipam.allocate({ subnetId: subnet.id, owner: "tls" });
      expect(allocation.addresses).toEqual(["10.9.0.1"]);
      const sessions = await sslOfSessions("tls_full");
      expect(sessions.length).toBeGreaterThan(0);
      expect(sessions.every(Boolean)).toBe(true);
    } finally {
      await ipam.close();
    }
    // The migration client on its own, with the same URL: nothing pending, but it connected.
    expect(await migrate(verifyFull("tls_full"), "ipam")).toEqual([]);
  });

  it("verify-ca checks the chain only; verify-full also the name (127.0.0.1 is not in the certificate)", async () => {
    const onIp = (mode: string) => server.url({ query: `sslmode=${mode}&sslrootcert=${encodeURIComponent(ca())}` });
    const caOnly = await Ipam.open({ databaseUrl: onIp("verify-ca"), migrate: false });
    await caOnly.close();
    const error = await failure(() => Ipam.open({ databaseUrl: onIp("verify-full") }));
    expect(error).toMatchObject({ code: "DATABASE_UNAVAILABLE", retryable: false });
    expect(error.message).toMatch(/certificate was not accepted \(ERR_TLS_CERT_ALTNAME_INVALID/);
  });

  it("a certificate from another CA is refused, by the migration client and by the pool", async () => {
    const other = server.url({ host: "localhost", query: `sslmode=verify-full&sslrootcert=${encodeURIComponent(join(certs, "other.crt"))}` });
    for (const open of [() => Ipam.open({ databaseUrl: other }), () => Ipam.open({ databaseUrl: other, migrate: false }), () => migrate(other, "ipam")]) {
      const error = await failure(open);
      expect(error).toMatchObject({ code: "DATABASE_UNAVAILABLE", retryable: false });
      expect(error.message).toMatch(/TLS certificate was not accepted/);
    }
  });

  it("sslmode=require encrypts without verifying (libpq's meaning)", async () => {
    const ipam = await Ipam.open({ databaseUrl: server.url({ query: "sslmode=require" }), migrate: false });
    await ipam.close();
  });

  it("no sslmode, or sslmode=disable, is plaintext, which this server refuses: a clear, non-retryable error", async () => {
    for (const url of [server.url(), server.url({ query: "sslmode=disable" })]) {
      const error = await failure(() => Ipam.open({ databaseUrl: url }));
      expect(error).toMatchObject({ code: "DATABASE_UNAVAILABLE", retryable: false });
      expect(error.message).toMatch(/no pg_hba.conf entry/);
      expect(error.message).not.toContain(server.password);
    }
  });

  it("an unknown or unsupported TLS parameter is an error before anything connects, naming the parameter and never the URL", async () => {
    const cases: [string, RegExp][] = [
      ["ssl=true", /unsupported parameter "ssl".*sslmode=require/],
      ["sslmode=prefer", /sslmode must be one of disable, require, verify-ca, verify-full \("prefer" may silently connect without TLS\)/],
      ["sslmode=allow", /sslmode must be one of/],
      ["sslmode=no-verify", /sslmode must be one of/],
      ["sslmod=require", /unsupported parameter "sslmod"/],
      ["sslmode=verify-full&sslrootcert=/nonexistent/ca.pem", /cannot read the sslrootcert file \(ENOENT\)/],
      ["sslmode=disable&sslrootcert=" + encodeURIComponent(join(certs, "ca.crt")), /sslrootcert given with sslmode=disable/],
      ["sslmode=require&sslcert=" + encodeURIComponent(join(certs, "ca.crt")), /sslcert and sslkey must be given together/],
      ["sslcompression=1", /unsupported parameter "sslcompression"/],
    ];
    for (const [query, message] of cases) {
      const url = server.url({ query });
      for (const open of [() => Ipam.open({ databaseUrl: url }), () => migrate(url, "ipam")]) {
        const error = await failure(open);
        expect(error, query).toMatchObject({ code: "CONFIGURATION" });
        expect(error.message, query).toMatch(message);
        expect(error.message, query).not.toContain(server.password);
      }
    }
  });

  it("the provider host honours the same options: a stack configured with verify-full creates over TLS, with ?ssl=true it refuses", async () => {
    await createDatabase("tls_provider");
    const P = await serializedProviders();
    const { IPAM_DATABASE_URL: _ignored, ...env } = process.env;
    const host = await startProviderHost({ ...env, CI: "true" });
    try {
      await host.configure({ "ipam:databaseUrl": verifyFull("tls_provider") });
      const created = await host.create(urnOf("ipam:Subnet", "net"), { __provider: P.subnet, __owner: "proj/dev/net", cidr: "10.10.0.0/24" });
      expect(created.properties.cidr).toBe("10.10.0.0/24");
      expect((await sslOfSessions("tls_provider")).every(Boolean)).toBe(true);
      const plain = await startProviderHost({ ...env, CI: "true" });
      try {
        await plain.configure({ "ipam:databaseUrl": server.url({ database: "tls_provider", host: "localhost", query: "ssl=true" }) });
        const refused = await plain.create(urnOf("ipam:Subnet", "net2"), { __provider: P.subnet, __owner: "proj/dev/net2", cidr: "10.11.0.0/24" }).then(
          () => null,
          (error: Error) => error,
        );
        expect(refused?.message).toMatch(/unsupported parameter "ssl".*\(CONFIGURATION\)/);
      } finally {
        await plain.close();
      }
    } finally {
      await host.close();
    }
  });
});

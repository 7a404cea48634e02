import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLeastPrivilegeDatabase, type LeastPrivilegeDatabase } from "../helpers/leastPrivilegeDatabase.js";
import { startProviderHost, urnOf, type ProviderHost, type Props } from "../../harness/providerHost.js";
import { serializedProviders } from "../../harness/serializedProviders.js";

const SENTINEL = "S3ntinel-Pw-9d1f";
/** The deployer login's real password is the sentinel, so a working URL carries it too. */
let db: LeastPrivilegeDatabase;
let P: Awaited<ReturnType<typeof serializedProviders>>;
const hosts: ProviderHost[] = [];
const { IPAM_DATABASE_URL: _ignored, CI: _ci, ...baseEnv } = process.env;

beforeAll(async () => {
  db = await createLeastPrivilegeDatabase("provsecret", SENTINEL);
  P = await serializedProviders();
});
afterAll(async () => {
  await Promise.all(hosts.map((h) => h.close()));
  await db?.drop();
});

async function host(env: NodeJS.ProcessEnv = baseEnv): Promise<ProviderHost> {
  const h = await startProviderHost(env);
  hosts.push(h);
  return h;
}

function wrongPasswordUrl(base: string, port?: string): string {
  const u = new URL(base);
  u.username = "ipam_no_such_user";
  u.password = SENTINEL;
  if (port) u.port = port;
  return u.toString();
}

/** A gRPC error as the engine receives it: status message, details and every metadata entry (binary ones too). */
function errorText(error: unknown): string {
  const e = error as { message?: string; details?: string; metadata?: { getMap(): Record<string, unknown> } };
  const metadata = Object.entries(e.metadata?.getMap() ?? {}).map(([key, value]) => `${key}=${Buffer.isBuffer(value) ? value.toString("latin1") : String(value)}`);
  return ["ERROR", e.message ?? String(error), e.details ?? "", ...metadata].join(" ");
}

/** Everything a user could see: response bodies, error messages, host stdout/stderr. */
async function seen(h: ProviderHost, work: () => Promise<unknown>): Promise<string> {
  let text: string;
  try {
    text = JSON.stringify(await work());
  } catch (error) {
    text = errorText(error);
  }
  await new Promise((r) => setTimeout(r, 100));
  return `${text}\n${h.output()}`;
}

describe("the database URL and password never surface", () => {
  for (const [label, url] of [
    ["unreachable server", () => wrongPasswordUrl(db.url, "1")],
    ["rejected credentials", () => wrongPasswordUrl(db.url)],
  ] as const) {
    it(`configured URL, ${label}: create fails with a clear error and no secret`, async () => {
      const h = await host();
      // A short retry budget: an unreachable server is retried as transient (docs/connections.md).
      await h.configure({ "ipam:databaseUrl": url(), "ipam:retryTimeoutSeconds": "1" });
      const text = await seen(h, () => h.create(urnOf("ipam:Subnet", "net"), { __provider: P.subnet, cidr: "10.1.0.0/24" }));
      expect(text).toMatch(/^ERROR .*ipam: creating a subnet: .*(DATABASE_UNAVAILABLE|unavailable|reach|connect)/i);
      expect(text).not.toContain(SENTINEL);
      expect(text).not.toMatch(/postgres(ql)?:\/\//);
      expect(text).not.toContain("ipam_no_such_user");
    });
  }

  it("env IPAM_DATABASE_URL with a bad password: same", async () => {
    const h = await host({ ...baseEnv, IPAM_DATABASE_URL: wrongPasswordUrl(db.url, "1") });
    await h.configure({ "ipam:retryTimeoutSeconds": "1" });
    const text = await seen(h, () => h.create(urnOf("ipam:IpAllocation", "a"), { __provider: P.allocation, __owner: "p/s/a", subnetId: "1" }));
    expect(text).toMatch(/^ERROR/);
    expect(text).not.toContain(SENTINEL);
  });

  it("a working connection whose password is the sentinel: no response, output or log of a full lifecycle contains it", async () => {
    const h = await host();
    await h.configure({ "ipam:databaseUrl": db.appUrl });
    const responses: unknown[] = [];
    const record = async <T>(response: Promise<T>): Promise<T> => {
      const value = await response;
      responses.push(value);
      return value;
    };
    const netUrn = urnOf("ipam:Subnet", "net");
    const subnetInputs: Props = { __provider: P.subnet, cidr: "10.2.0.0/24", tags: { env: "test" } };
    await record(h.check(netUrn, {}, subnetInputs));
    const s = await record(h.create(netUrn, subnetInputs));
    await record(h.read(netUrn, s.id, s.properties, subnetInputs));
    const subnetNews = { ...subnetInputs, description: "edited" };
    await record(h.diff(netUrn, s.id, s.properties, subnetNews));
    const s2 = await record(h.update(netUrn, s.id, s.properties, subnetNews));
    const aUrn = urnOf("ipam:IpAllocation", "a");
    const props: Props = { __provider: P.allocation, __owner: "p/s/a", subnetId: s.id };
    await record(h.check(aUrn, {}, props));
    const a = await record(h.create(aUrn, props));
    await record(h.read(aUrn, a.id, a.properties, props));
    await record(h.diff(aUrn, a.id, a.properties, { ...props, count: 2 }));
    const a2 = await record(h.update(aUrn, a.id, a.properties, { ...props, count: 2 }));
    // A failure on a working connection (the subnet still has an allocation) is visible too.
    const refused = await seen(h, () => h.delete(netUrn, s.id, s2.properties));
    expect(refused).toMatch(/^ERROR .*SUBNET_IN_USE/);
    await h.delete(aUrn, a.id, a2.properties);
    await h.delete(netUrn, s.id, s2.properties);
    const text = JSON.stringify(responses) + refused + h.output();
    expect(text).not.toContain(SENTINEL);
    const u = new URL(db.url);
    expect(text).not.toContain(`${u.host}${u.pathname}`);
    expect(text).not.toContain(db.name);
    expect(text).not.toMatch(/postgres(ql)?:\/\//);
  });

  it("CI=true without any URL refuses with a clear error instead of starting a local database", async () => {
    const h = await host({ ...baseEnv, CI: "true" });
    await h.configure({});
    const text = await seen(h, () => h.create(urnOf("ipam:Subnet", "net"), { __provider: P.subnet, cidr: "10.3.0.0/24" }));
    expect(text).toMatch(/CI=true/);
    expect(text).toMatch(/ipam:databaseUrl/);
  });
});

describe("every RPC that touches the database, for each way the connection fails", () => {
  const admin = async <T>(work: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  };
  const withPassword = (password: string) => {
    const u = new URL(db.appUrl);
    u.password = password;
    return u.toString();
  };
  /** Under `trust` authentication (a developer's server) any password is accepted: nothing to refuse. */
  const serverChecksPasswords = async () => {
    const client = new pg.Client({ connectionString: withPassword(`${SENTINEL}-wrong`) });
    const refused = await client.connect().then(
      () => false,
      () => true,
    );
    await client.end().catch(() => undefined);
    return refused;
  };

  const modes: [string, () => string, (() => Promise<() => Promise<void>>)?][] = [
    ["unreachable server", () => wrongPasswordUrl(db.url, "1")],
    ["unknown role", () => wrongPasswordUrl(db.url)],
    ["wrong password for the deployer login", () => withPassword(`${SENTINEL}-wrong`)],
    [
      "the deployer login may not log in",
      () => db.appUrl,
      async () => {
        const login = (client: pg.Client) => client.escapeIdentifier(db.login);
        await admin((client) => client.query(`ALTER ROLE ${login(client)} NOLOGIN`));
        return () => admin((client) => client.query(`ALTER ROLE ${login(client)} LOGIN`)).then(() => undefined);
      },
    ],
  ];

  it.for(modes.map(([label, url, prepare]) => ({ label, url, prepare })))("$label: check, diff, create, read, update and delete of both resources", async ({ label, url, prepare }, ctx) => {
    if (label.startsWith("wrong password") && !(await serverChecksPasswords())) ctx.skip("this server trusts local connections: no password is ever wrong");
    const restore = await prepare?.();
    try {
      const h = await host();
      // A short retry budget: an unreachable server is retried as transient (docs/connections.md).
      await h.configure({ "ipam:databaseUrl": url(), "ipam:retryTimeoutSeconds": "1" });
      const net = urnOf("ipam:Subnet", "net");
      const web = urnOf("ipam:IpAllocation", "web");
      const subnet: Props = { __provider: P.subnet, cidr: "10.4.0.0/24" };
      const alloc: Props = { __provider: P.allocation, __owner: "p/s/web", subnetId: "1" };
      const stored = (props: Props, outputs: Props) => ({ ...props, ...outputs, __inputs: props });
      const texts: string[] = [];
      // No database needed: these answer normally, and their answers are scanned as well.
      texts.push(await seen(h, () => h.check(net, {}, subnet)), await seen(h, () => h.check(web, {}, alloc)));
      texts.push(await seen(h, () => h.diff(net, "1", stored(subnet, { subnetId: "1" }), { ...subnet, description: "x" })));
      texts.push(await seen(h, () => h.diff(web, "1", stored(alloc, { addresses: ["10.4.0.2"] }), { ...alloc, count: 2 })));
      const failures: [string, () => Promise<unknown>][] = [
        ["creating a subnet", () => h.create(net, subnet)],
        ["reading a subnet", () => h.read(net, "1", stored(subnet, { subnetId: "1" }), subnet)],
        ["updating a subnet", () => h.update(net, "1", stored(subnet, { subnetId: "1" }), { ...subnet, description: "x" })],
        ["deleting a subnet", () => h.delete(net, "1", stored(subnet, { subnetId: "1" }))],
        ["allocating", () => h.create(web, alloc)],
        ["reading an allocation", () => h.read(web, "1", stored(alloc, { addresses: ["10.4.0.2"] }), alloc)],
        ["updating an allocation", () => h.update(web, "1", stored(alloc, { addresses: ["10.4.0.2"] }), { ...alloc, count: 2 })],
        ["releasing an allocation", () => h.delete(web, "1", stored(alloc, { addresses: ["10.4.0.2"] }))],
      ];
      for (const [doing, call] of failures) {
        const text = await seen(h, call);
        expect(text, doing).toMatch(new RegExp(`^ERROR .*ipam: ${doing}: .*\\((DATABASE_UNAVAILABLE|DATABASE_ERROR)\\)`));
        texts.push(text);
      }
      const all = texts.join("\n");
      expect(all).not.toContain(SENTINEL);
      expect(all).not.toMatch(/postgres(ql)?:\/\//);
      expect(all).not.toContain(db.name);
    } finally {
      await restore?.();
    }
  });
});


import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startProviderHost, urnOf, type ProviderHost, type Props } from "../../harness/providerHost.js";
import { serializedProviders } from "../../harness/serializedProviders.js";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.js";

const SENTINEL = "S3ntinel-Pw-9d1f";
let db: TestDatabase;
let P: Awaited<ReturnType<typeof serializedProviders>>;
const hosts: ProviderHost[] = [];
const { IPAM_DATABASE_URL: _ignored, CI: _ci, ...baseEnv } = process.env;

beforeAll(async () => {
  db = await createTestDatabase("provsecret");
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

/** Everything a user could see: response bodies, error messages, host stdout/stderr. */
async function seen(h: ProviderHost, work: () => Promise<unknown>): Promise<string> {
  let text: string;
  try {
    text = JSON.stringify(await work());
  } catch (error) {
    text = `ERROR ${(error as Error).message} ${(error as { details?: string }).details ?? ""}`;
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
      await h.configure({ "ipam:databaseUrl": url() });
      const text = await seen(h, () => h.create(urnOf("ipam:Subnet", "net"), { __provider: P.subnet, cidr: "10.1.0.0/24" }));
      expect(text).toMatch(/^ERROR .*ipam: creating a subnet: .*(DATABASE_UNAVAILABLE|unavailable|reach|connect)/i);
      expect(text).not.toContain(SENTINEL);
      expect(text).not.toMatch(/postgres(ql)?:\/\//);
      expect(text).not.toContain("ipam_no_such_user");
    });
  }

  it("env IPAM_DATABASE_URL with a bad password: same", async () => {
    const h = await host({ ...baseEnv, IPAM_DATABASE_URL: wrongPasswordUrl(db.url, "1") });
    await h.configure({});
    const text = await seen(h, () => h.create(urnOf("ipam:IpAllocation", "a"), { __provider: P.allocation, __owner: "p/s/a", subnetId: "1" }));
    expect(text).toMatch(/^ERROR/);
    expect(text).not.toContain(SENTINEL);
  });

  it("a working connection: no response of a full lifecycle contains the URL", async () => {
    const h = await host();
    await h.configure({ "ipam:databaseUrl": db.url });
    const responses: unknown[] = [];
    const s = await h.create(urnOf("ipam:Subnet", "net"), { __provider: P.subnet, cidr: "10.2.0.0/24" });
    responses.push(s);
    const props: Props = { __provider: P.allocation, __owner: "p/s/a", subnetId: s.id };
    responses.push(await h.check(urnOf("ipam:IpAllocation", "a"), {}, props));
    const a = await h.create(urnOf("ipam:IpAllocation", "a"), props);
    responses.push(a, await h.read(urnOf("ipam:IpAllocation", "a"), a.id, a.properties, props));
    responses.push(await h.diff(urnOf("ipam:IpAllocation", "a"), a.id, a.properties, { ...props, count: 2 }));
    const text = JSON.stringify(responses) + h.output();
    const u = new URL(db.url);
    expect(text).not.toContain(`${u.host}${u.pathname}`);
    expect(text).not.toContain(db.name);
    if (u.password) expect(text).not.toContain(u.password);
  });

  it("CI=true without any URL refuses with a clear error instead of starting a local database", async () => {
    const h = await host({ ...baseEnv, CI: "true" });
    await h.configure({});
    const text = await seen(h, () => h.create(urnOf("ipam:Subnet", "net"), { __provider: P.subnet, cidr: "10.3.0.0/24" }));
    expect(text).toMatch(/CI=true/);
    expect(text).toMatch(/ipam:databaseUrl/);
  });
});

import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ipam } from "../../../provider/store/index.js";
import { parseListen } from "../../../provider/cli/serve/listenAddress.js";
import { jsonOf, runCli } from "../../helpers/cliRunner.js";
import { withClient } from "../../helpers/leastPrivilegeDatabase.js";
import { createReaderLogin } from "../../helpers/readerDatabase.js";
import { ServeExit, startServe, type ServeProcess } from "../../helpers/serveProcess.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/testDatabase.js";

const TOKEN = "s3cret-token-for-the-web-view-0123";
const HOSTILE = `<script>alert("x")</script><img src=x onerror=alert(1)>`;

let db: TestDatabase;
let reader: Awaited<ReturnType<typeof createReaderLogin>>;
let server: ServeProcess;

beforeAll(async () => {
  db = await createTestDatabase("servesec");
  const ipam = await Ipam.open({ databaseUrl: db.url });
  try {
    // A 1 h hold-down: the released address below is held (neither used nor free) while the tests run.
    const web = await ipam.createSubnet({ cidr: "10.60.0.0/24", namespace: "alpha", allocationPools: [{ start: "10.60.0.10", end: "10.60.0.19" }], releaseHoldSeconds: 3600 });
    await ipam.allocate({ subnetId: web.id, owner: "app/prod/web", count: 8 });
    await ipam.release((await ipam.allocate({ subnetId: web.id, owner: "app/prod/gone" })).allocation.id);
    await ipam.allocate({ subnetId: web.id, owner: `app/prod/${HOSTILE}`, address: "10.60.0.200", description: HOSTILE });
    const parent = await ipam.createSubnet({ cidr: "10.61.0.0/16", namespace: "beta", childrenOnly: true, defaultPrefixLength: 24 });
    await ipam.createSubnet({ parentId: parent.id });
    await ipam.createSubnet({ cidr: "2001:db8:60::/64", namespace: "beta" });
  } finally {
    await ipam.close();
  }
  reader = await createReaderLogin(db.url);
  // Every request of this server goes through the read-only role: whatever it does, it cannot write.
  server = await startServe(["--listen", "0.0.0.0:0"], { IPAM_DATABASE_URL: reader.readerUrl, IPAM_SERVE_TOKEN: TOKEN });
});

afterAll(async () => {
  await server?.stop();
  await db?.drop();
  await reader?.drop();
});

const bearer = { Authorization: `Bearer ${TOKEN}` };

describe("ipam serve on a non-loopback address", () => {
  it("refuses to start without a token, and says why", async () => {
    const refused = await startServe(["--listen", "0.0.0.0:0"], { IPAM_DATABASE_URL: reader.readerUrl }).then(
      async (started) => {
        await started.stop();
        throw new Error("it started");
      },
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(ServeExit);
    expect((refused as ServeExit).code).toBe(1);
    expect((refused as ServeExit).stderr).toMatch(/refusing to listen on 0\.0\.0\.0.*without a token: set IPAM_SERVE_TOKEN/);
  });

  it("answers 401 without the token, the page with it, and never echoes the token", async () => {
    const anonymous = await fetch(server.url);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(await anonymous.text()).not.toContain(TOKEN);
    expect((await fetch(server.url, { headers: { Authorization: "Bearer wrong-token-of-some-length" } })).status).toBe(401);
    expect((await fetch(new URL("/metrics", server.url), { headers: { Authorization: `Bearer ${TOKEN}x` } })).status).toBe(401);
    const allowed = await fetch(server.url, { headers: bearer });
    expect(allowed.status).toBe(200);
    expect(await allowed.text()).toContain("10.60.0.0/24");
    expect(server.lines.join("\n") + server.stderr()).not.toContain(TOKEN);
  });

  it("the one-time link sets a session cookie once; the link is spent afterwards", async () => {
    const link = /https?:\/\/\S+\/sign-in\/\S+/.exec(server.lines[1] ?? "")?.[0];
    expect(link).toBeDefined();
    const first = await fetch(link!.replace("0.0.0.0", "127.0.0.1"), { redirect: "manual" });
    expect(first.status).toBe(303);
    const cookie = first.headers.get("set-cookie")!;
    expect(cookie).toMatch(/ipam_session=.+HttpOnly.*SameSite=Strict/i);
    expect(cookie).not.toContain(TOKEN);
    const session = cookie.split(";")[0]!;
    expect((await fetch(server.url, { headers: { Cookie: session } })).status).toBe(200);
    expect((await fetch(server.url, { headers: { Cookie: "ipam_session=forged" } })).status).toBe(401);
    const again = await fetch(link!.replace("0.0.0.0", "127.0.0.1"), { redirect: "manual" });
    expect(again.status).toBe(401);
  });
});

describe("read-only and strict by construction", () => {
  it("refuses every method but GET and HEAD, before the token check and before routing", async () => {
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
      const response = await fetch(new URL("/api/v1/subnets", server.url), { method, headers: bearer });
      expect(response.status, method).toBe(405);
      expect(response.headers.get("allow")).toBe("GET, HEAD");
    }
    expect((await fetch(server.url, { method: "HEAD", headers: bearer })).status).toBe(200);
  });

  it("sends a Content-Security-Policy that allows no script and no inline style", async () => {
    const response = await fetch(server.url, { headers: bearer });
    const csp = response.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'none'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("cache-control")).toBe("no-store");
  });

  it("escapes stored text in HTML and keeps it intact in JSON", async () => {
    const page = await (await fetch(new URL("/subnets/1", server.url), { headers: bearer })).text();
    expect(page).not.toContain("<script>alert");
    expect(page).not.toContain("<img src=x");
    expect(page).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;");
    const json = (await (await fetch(new URL("/api/v1/subnets/1", server.url), { headers: bearer })).json()) as { allocations: { allocations: { description: string }[] } };
    expect(json.allocations.allocations.map((a) => a.description)).toContain(HOSTILE);
  });

  it("shows the held address with its time left on the subnet page and in its JSON", async () => {
    const page = await (await fetch(new URL("/subnets/1", server.url), { headers: bearer })).text();
    expect(page).toMatch(/1 held, 1 free of 10/);
    expect(page).toMatch(/<tr data-held-address="10\.60\.0\.18"><td class="mono">10\.60\.0\.18<\/td><td class="num">\d+ s<\/td><td class="owner">app\/prod\/gone<\/td>/);
    const json = (await (await fetch(new URL("/api/v1/subnets/1", server.url), { headers: bearer })).json()) as { held: string; heldAddresses: { address: string; secondsLeft: number }[] };
    expect(json.held).toBe("1");
    expect(json.heldAddresses).toEqual([expect.objectContaining({ address: "10.60.0.18", owner: "app/prod/gone" })]);
    expect(json.heldAddresses[0]!.secondsLeft).toBeGreaterThan(0);
  });

  it("answers bad input and missing things with clear errors and no internals", async () => {
    const missing = await fetch(new URL("/subnets/999999", server.url), { headers: bearer });
    expect(missing.status).toBe(404);
    const bad = await fetch(new URL("/api/v1/subnets?limit=5000", server.url), { headers: bearer });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: { code: "INVALID_INPUT", message: "That request is not valid:", issues: [{ field: "limit", reason: "must be a whole number from 1 to 1000" }] } });
    const search = await fetch(new URL("/search?q=not-an-address", server.url), { headers: bearer });
    expect(search.status).toBe(400);
    const text = await search.text();
    expect(text).toContain("q");
    expect(text).not.toMatch(/SELECT|postgres:|at .*\.js:\d+/);
  });

  it("the database role the server uses cannot write (each attempt fails with insufficient privilege)", async () => {
    await withClient(reader.readerUrl, async (client) => {
      const attempts = [
        `INSERT INTO ipam.namespace (name) VALUES ('intruder')`,
        `UPDATE ipam.allocation SET owner = 'intruder'`,
        `DELETE FROM ipam.allocated_address`,
        `TRUNCATE ipam.audit_event`,
        `CREATE TABLE ipam.intruder (id int)`,
        `CREATE TEMPORARY TABLE intruder (id int)`,
      ];
      for (const statement of attempts) {
        await expect(client.query(statement), statement).rejects.toMatchObject({ code: "42501" });
      }
      expect((await client.query("SELECT count(*)::int AS n FROM ipam.subnet")).rows[0].n).toBe(4);
    });
    await withClient(db.url, async (admin) => {
      expect((await admin.query("SELECT count(*)::int AS n FROM ipam.namespace WHERE name = 'intruder'")).rows[0].n).toBe(0);
      expect((await admin.query("SELECT count(*)::int AS n FROM ipam.allocation WHERE owner = 'intruder'")).rows[0].n).toBe(0);
    });
  });
});

describe("/metrics", () => {
  it("parses as the Prometheus text format and matches `ipam usage --json` for every subnet", async () => {
    const response = await fetch(new URL("/metrics", server.url), { headers: bearer });
    expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = parsePrometheusTextFormat(await response.text()) as { name: string; type: string; metrics: { value: string; labels?: Record<string, string> }[] }[];
    const family = (name: string) => families.find((f) => f.name === name)!;
    expect(family("ipam_database_up").metrics[0]!.value).toBe("1");
    expect(Number(family("ipam_subnets").metrics[0]!.value)).toBe(4);
    expect(family("process_cpu_user_seconds_total").type).toBe("COUNTER");

    const usage = jsonOf<{ subnets: { subnet: { id: string; namespace: string; cidr: string }; usage: Record<string, string | number> }[] }>(
      await runCli(["usage", "--json"], { IPAM_DATABASE_URL: reader.readerUrl }),
    );
    expect(usage.subnets).toHaveLength(4);
    const expected: [string, string][] = [
      ["ipam_subnet_addresses", "total"],
      ["ipam_subnet_pool_addresses", "poolSize"],
      ["ipam_subnet_used_addresses", "allocated"],
      ["ipam_subnet_free_addresses", "free"],
      ["ipam_subnet_held_addresses", "held"],
      ["ipam_subnet_children", "childPrefixes"],
    ];
    for (const { subnet, usage: figures } of usage.subnets) {
      const labels = { namespace: subnet.namespace, cidr: subnet.cidr, id: subnet.id };
      for (const [name, field] of expected) {
        const sample = family(name).metrics.filter((m) => m.labels?.id === subnet.id);
        expect(sample, `${name} ${subnet.cidr}`).toHaveLength(1);
        expect(sample[0]!.labels).toEqual(labels);
        // Gauges are doubles: an IPv6 /64 (2^64) compares as the same double.
        expect(Number(sample[0]!.value), `${name} ${subnet.cidr}`).toBe(Number(figures[field]));
      }
    }
    // The released address is held, not free: the comparison above covered a non-zero hold.
    expect(usage.subnets.find((s) => s.subnet.cidr === "10.60.0.0/24")!.usage).toMatchObject({ held: "1", free: "1", allocated: "9" });
  });
});

describe("/fullest", () => {
  it("orders every subnet by pool use across pages, from the same grouped read", async () => {
    const page = async (query: string) =>
      (await (await fetch(new URL(`/api/v1/fullest${query}`, server.url), { headers: bearer })).json()) as { total: number; subnets: { cidr: string; childrenOnly: boolean }[] };
    const all = await page("");
    expect(all.total).toBe(4);
    // 9 of 10 pool addresses used or held (90%), then the empty pools by id; the children-only parent last.
    expect(all.subnets.map((s) => s.cidr)).toEqual(["10.60.0.0/24", "10.61.0.0/24", "2001:db8:60::/64", "10.61.0.0/16"]);
    const second = await page("?limit=2&offset=2");
    expect(second.subnets.map((s) => s.cidr)).toEqual(["2001:db8:60::/64", "10.61.0.0/16"]);
    expect((await page("?namespace=beta")).total).toBe(3);
    const html = await (await fetch(new URL("/fullest?limit=2", server.url), { headers: bearer })).text();
    expect(html).toContain('rel="next"');
  });
});

describe("--listen", () => {
  it("takes HOST:PORT, brackets for IPv6, and knows loopback from the rest", () => {
    expect(parseListen("127.0.0.1:8080")).toEqual({ host: "127.0.0.1", port: 8080, loopback: true });
    expect(parseListen("[::1]:0")).toEqual({ host: "::1", port: 0, loopback: true });
    expect(parseListen("localhost:80").loopback).toBe(true);
    expect(parseListen("0.0.0.0:80").loopback).toBe(false);
    expect(parseListen("[::]:80").loopback).toBe(false);
    expect(parseListen("10.0.0.1:80").loopback).toBe(false);
    expect(parseListen("127.evil.example:80").loopback).toBe(false);
    expect(() => parseListen("8080")).toThrow(/HOST:PORT/);
    expect(() => parseListen("[10.0.0.1]:80")).toThrow(/IPv6/);
    expect(() => parseListen("a:70000")).toThrow(/65535/);
  });
});

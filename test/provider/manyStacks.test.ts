import { randomInt } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ipam } from "../../provider/store/index.js";
import { startProviderHost, urnOf, type ProviderHost, type Props } from "../../harness/providerHost.js";
import { serializedProviders } from "../../harness/serializedProviders.js";
import { startOwnedServer, type OwnedServer } from "../helpers/ownedServer.js";

/**
 * Issue 15, "Done when": more provider hosts (stacks) than the server has connections, each
 * creating, growing and destroying allocations at the engine's parallelism (every resource's
 * operation sent at once, as the engine does for independent resources at its default --parallel),
 * while an administrator kills the deployers' backends at random. Every operation succeeds (the
 * provider queues for its few connections and retries what is transient), no address is handed
 * out twice, and after the destroy nothing is left allocated.
 *
 * The server is this test's own: max_connections 20, 3 of them reserved for superusers (the
 * killer), so the 24 hosts, logging in as an ordinary role, share 17.
 */
const HOSTS = 24;
const PER_HOST = 3;
const SUBNETS = 4;
const GROWN = 3;
const MAX_CONNECTIONS = 20;
const RESERVED = 3;

let server: OwnedServer;
let deployerUrl: string;
let adminUrl: string;
let hosts: ProviderHost[] = [];
let subnetIds: string[] = [];
/** The negative control's own subnet, so its allocations stay out of the main test's accounts. */
let controlSubnet: string;
let P: Awaited<ReturnType<typeof serializedProviders>>;

beforeAll(async () => {
  server = await startOwnedServer({ settings: { max_connections: String(MAX_CONNECTIONS), superuser_reserved_connections: String(RESERVED) } });
  const probe = new pg.Client({ connectionString: server.url() });
  await probe.connect();
  expect((await probe.query("SHOW max_connections")).rows[0].max_connections).toBe(String(MAX_CONNECTIONS));
  await probe.end();
  adminUrl = server.url({ database: "stacks" });
  const setup = new pg.Client({ connectionString: server.url() });
  await setup.connect();
  await setup.query("CREATE ROLE deployer LOGIN PASSWORD 'deployer-pw'");
  await setup.query("CREATE DATABASE stacks OWNER deployer");
  await setup.end();
  deployerUrl = `postgres://deployer:deployer-pw@127.0.0.1:${server.port}/stacks`;
  const ipam = await Ipam.open({ databaseUrl: deployerUrl });
  for (let index = 0; index < SUBNETS; index += 1) subnetIds.push((await ipam.createSubnet({ cidr: `10.${70 + index}.0.0/24` })).id);
  controlSubnet = (await ipam.createSubnet({ cidr: "10.79.0.0/24" })).id;
  await ipam.close();
  P = await serializedProviders();
  const { IPAM_DATABASE_URL: _configured, ...env } = process.env;
  hosts = await Promise.all(Array.from({ length: HOSTS }, () => startProviderHost({ ...env, CI: "true" })));
}, 180_000);
afterAll(async () => {
  await Promise.all(hosts.map((host) => host.close()));
  await server?.stop();
});

/** Kill a random deployer backend every 100–400 ms until stopped; count the kills. */
function startKiller(): { stop(): Promise<number> } {
  let running = true;
  let kills = 0;
  const done = (async () => {
    const admin = new pg.Client({ connectionString: adminUrl });
    admin.on("error", () => undefined);
    await admin.connect();
    try {
      while (running) {
        const { rows } = await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE usename = 'deployer'");
        if (rows.length > 0) {
          const victim = rows[randomInt(rows.length)]!.pid;
          const killed = await admin.query<{ ok: boolean }>("SELECT pg_terminate_backend($1) AS ok", [victim]);
          if (killed.rows[0]?.ok) kills += 1;
        }
        await sleep(randomInt(100, 400));
      }
    } finally {
      await admin.end();
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return kills;
    },
  };
}

interface Resource {
  readonly host: ProviderHost;
  readonly urn: string;
  readonly inputs: Props;
  id?: string;
  outputs?: Props;
}

describe(`${HOSTS} stacks on a server with max_connections ${MAX_CONNECTIONS}, backends killed at random`, () => {
  it("negative control: with retries off (ipam:retryTimeoutSeconds 0) the same crowd fails on too many connections", async () => {
    // First, while no host has a pool yet: all of them open theirs at once. The SDK host configures
    // a provider once, when it first deserializes its __provider string (cmd/dynamic-provider
    // getProvider's providerCache): a variant of the string (a trailing newline) is a provider of
    // its own, configured now with retries off, leaving the real one for the main test.
    const control = `${P.allocation}\n`;
    await Promise.all(hosts.map((host) => host.configure({ "ipam:databaseUrl": deployerUrl, "ipam:retryTimeoutSeconds": "0" })));
    const outcomes = await Promise.allSettled(
      hosts.flatMap((host, h) =>
        Array.from({ length: PER_HOST }, async (_, r) => {
          const urn = urnOf("ipam:IpAllocation", `control-${r}`, `ci-${h}`);
          const inputs = { __provider: control, __owner: `proj/ci-${h}/control-${r}`, subnetId: controlSubnet };
          return host.create(urn, (await host.check(urn, {}, inputs)).inputs);
        }),
      ),
    );
    const failures = outcomes.flatMap((outcome) => (outcome.status === "rejected" ? [String((outcome.reason as Error).message)] : []));
    console.log(`negative control: ${failures.length} of ${outcomes.length} creates failed; server refusals so far: ${refusals()}`);
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.some((message) => /SQLSTATE 53300.*\(RETRYABLE\)/.test(message))).toBe(true);
  });

  it("create, grow and destroy: every operation succeeds, no address twice, nothing leaked", async () => {
    const resources: Resource[] = hosts.flatMap((host, h) =>
      Array.from({ length: PER_HOST }, (_, r) => {
        const name = `web-${r}`;
        return {
          host,
          urn: urnOf("ipam:IpAllocation", name, `ci-${h}`),
          inputs: { __provider: P.allocation, __owner: `proj/ci-${h}/${name}`, subnetId: subnetIds[(h * PER_HOST + r) % SUBNETS]! },
        };
      }),
    );
    // Defaults for everything but the URL: the default pool size and retry budget are what is tested.
    await Promise.all(hosts.map((host) => host.configure({ "ipam:databaseUrl": deployerUrl })));
    const refusedBefore = refusals();
    const freeBefore = await freeAddresses();
    const killer = startKiller();
    let kills: number;
    try {
      // pulumi up: every resource's Check then Create at once.
      await Promise.all(
        resources.map(async (resource) => {
          const checked = await resource.host.check(resource.urn, {}, resource.inputs);
          const created = await resource.host.create(resource.urn, checked.inputs);
          resource.id = created.id;
          resource.outputs = created.properties;
        }),
      );
      // pulumi up with count: GROWN: Diff then Update, all at once.
      await Promise.all(
        resources.map(async (resource) => {
          const news = { ...resource.inputs, count: GROWN };
          const diff = await resource.host.diff(resource.urn, resource.id!, resource.outputs!, news);
          expect(diff.replaces).toEqual([]);
          const updated = await resource.host.update(resource.urn, resource.id!, resource.outputs!, news);
          resource.outputs = updated.properties;
        }),
      );
      const held = resources.flatMap((resource) => (resource.outputs!.addresses as string[]).map((address) => `${resource.outputs!.subnetId}/${address}`));
      expect(held).toHaveLength(HOSTS * PER_HOST * GROWN);
      expect(new Set(held).size).toBe(held.length);
      expect(new Set(resources.map((resource) => resource.id)).size).toBe(resources.length);
      const stored = await storedAddresses();
      expect(stored.sort()).toEqual([...held].sort());
      // pulumi destroy: every Delete at once.
      await Promise.all(resources.map((resource) => resource.host.delete(resource.urn, resource.id!, resource.outputs!)));
    } finally {
      kills = await killer.stop();
    }
    expect(kills).toBeGreaterThan(0);
    // The crowd was real: the server turned connections away meanwhile, and nobody saw a failure.
    console.log(`main run: ${kills} backends killed, ${refusals() - refusedBefore} connections refused for lack of a slot`);
    expect(refusals()).toBeGreaterThan(refusedBefore);
    expect(await storedAddresses()).toEqual([]);
    expect(await freeAddresses()).toBe(freeBefore);
  });
});


/** Connections the server refused for lack of a slot (53300), from its log. */
function refusals(): number {
  return server.log().split("too many clients already").length - 1 + server.log().split("remaining connection slots are reserved").length - 1;
}

async function withAdmin<T>(work: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}

async function storedAddresses(): Promise<string[]> {
  return withAdmin(async (admin) => {
    const { rows } = await admin.query<{ address: string }>(
      "SELECT a.subnet_id || '/' || host(ipam.ordinal_to_inet(d.ordinal, family(s.cidr))) AS address FROM ipam.allocated_address d JOIN ipam.allocation a ON a.id = d.allocation_id JOIN ipam.subnet s ON s.id = a.subnet_id WHERE a.subnet_id = ANY($1::int[])",
      [subnetIds],
    );
    return rows.map((row) => row.address);
  });
}

async function freeAddresses(): Promise<string> {
  return withAdmin(async (admin) => {
    const { rows } = await admin.query<{ free: string }>("SELECT coalesce(sum(last_ordinal - first_ordinal + 1), 0)::text AS free FROM ipam.free_range WHERE subnet_id = ANY($1::int[])", [subnetIds]);
    return rows[0]!.free;
  });
}

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startProviderHost, urnOf, type ProviderHost, type Props } from "../../harness/providerHost.js";
import { runCli } from "../helpers/cliRunner.js";
import { databaseFingerprint } from "../helpers/databaseFingerprint.js";
import { createLeastPrivilegeDatabase } from "../helpers/leastPrivilegeDatabase.js";
import { ciHostEnv, useProviderHost, type ProviderTestContext } from "../helpers/providerTestContext.js";

// Two databases whose ids overlap: A holds this stack's resources, B holds someone else's under the
// same ids (the refresh that returned another database's allocation 5 and released it).
const a = useProviderHost("identa", { env: ciHostEnv() });
const b = useProviderHost("identb", {
  env: ciHostEnv(),
  prepare: async ({ direct }) => {
    const subnet = await direct.createSubnet({ cidr: "172.16.0.0/24" });
    await direct.allocate({ subnetId: subnet.id, owner: "ops/manual-4" });
  },
});

const subnetUrn = urnOf("ipam:Subnet", "net");
const allocUrn = urnOf("ipam:IpAllocation", "web");
const subnetProps = (c: ProviderTestContext, p: Props) => ({ __provider: c.P.subnet, __owner: c.P.ownerOf("net"), __scope: "", ...p });
const allocProps = (c: ProviderTestContext, p: Props) => ({ __provider: c.P.allocation, __owner: c.P.ownerOf("web"), __scope: "", ...p });

/** Every way the engine touches an existing resource, through `host`: all must fail alike. */
async function touchAll(host: ProviderHost, subnet: { id: string; properties: Props }, alloc: { id: string; properties: Props }): Promise<unknown[]> {
  return Promise.all([
    host.read(subnetUrn, subnet.id, subnet.properties, subnet.properties).catch((e: unknown) => e),
    host.read(allocUrn, alloc.id, alloc.properties, alloc.properties).catch((e: unknown) => e),
    host.update(subnetUrn, subnet.id, subnet.properties, subnetProps(a, { cidr: "10.70.0.0/24", description: "changed" })).catch((e: unknown) => e),
    host.update(allocUrn, alloc.id, alloc.properties, allocProps(a, { subnetId: subnet.id, count: 2 })).catch((e: unknown) => e),
    host.delete(allocUrn, alloc.id, alloc.properties).catch((e: unknown) => e),
    host.delete(subnetUrn, subnet.id, subnet.properties).catch((e: unknown) => e),
  ]);
}

describe("database identity", () => {
  let subnet: { id: string; properties: Props };
  let alloc: { id: string; properties: Props };

  it("every database has its own random identity, recorded in each resource's state", async () => {
    const idA = await a.direct.installationId();
    const idB = await b.direct.installationId();
    expect(idA).toMatch(/^[0-9a-f-]{36}$/);
    expect(idB).not.toBe(idA);
    subnet = await a.up(subnetUrn, subnetProps(a, { cidr: "10.70.0.0/24" }));
    alloc = await a.up(allocUrn, allocProps(a, { subnetId: subnet.id }));
    expect(subnet.properties.__database).toBe(idA);
    expect(alloc.properties.__database).toBe(idA);
    // The ids overlap with B's rows: only the identity tells the databases apart.
    expect((await b.direct.getSubnet(subnet.id)).cidr).toBe("172.16.0.0/24");
    expect((await b.direct.getAllocation(alloc.id)).owner).toBe("ops/manual-4");
  });

  it("refresh, update and destroy through another database fail, naming both identities and what to do; neither database changes", async () => {
    const before = [await databaseFingerprint(a.admin), await databaseFingerprint(b.admin)];
    const errors = await touchAll(b.host, subnet, alloc);
    const idA = await a.direct.installationId();
    const idB = await b.direct.installationId();
    for (const error of errors) {
      const message = String((error as Error).message);
      expect(message).toContain("DATABASE_MISMATCH");
      expect(message).toContain(idA);
      expect(message).toContain(idB);
      expect(message).toContain("pulumi config set --secret ipam:databaseUrl");
      expect(message).toContain(`ipam:databaseMovedFrom ${idA}`);
      expect(message).not.toMatch(/postgres(ql)?:\/\//);
      expect(message).not.toContain(b.db.password);
    }
    expect([await databaseFingerprint(a.admin), await databaseFingerprint(b.admin)]).toEqual(before);
  });

  it("IPAM_DATABASE_URL reaching another database is refused the same way, and the error says which setting chose it", async () => {
    const host = await startProviderHost({ ...ciHostEnv(), IPAM_DATABASE_URL: b.db.appUrl });
    try {
      await host.configure({});
      const before = await databaseFingerprint(b.admin);
      const error = await host.read(allocUrn, alloc.id, alloc.properties, alloc.properties).catch((e: unknown) => e as Error);
      expect(error.message).toContain("DATABASE_MISMATCH");
      expect(error.message).toContain("but IPAM_DATABASE_URL reaches");
      expect(await databaseFingerprint(b.admin)).toEqual(before);
    } finally {
      await host.close();
    }
  });

  it("the same resources still refresh, update and destroy through their own database", async () => {
    const refreshed = await a.host.read(allocUrn, alloc.id, alloc.properties, alloc.properties);
    expect(refreshed).toMatchObject({ id: alloc.id, properties: { __database: alloc.properties.__database } });
    const updated = await a.host.update(allocUrn, alloc.id, refreshed.properties, allocProps(a, { subnetId: subnet.id, count: 2 }));
    expect(updated.properties.addresses).toHaveLength(2);
    await a.host.delete(allocUrn, alloc.id, updated.properties);
    await a.host.delete(subnetUrn, subnet.id, subnet.properties);
    expect(await a.direct.listSubnets()).toEqual([]);
  });

  it("data moved to a new database on purpose: refused until ipam:databaseMovedFrom names the old identity, then adopted", async () => {
    subnet = await a.up(subnetUrn, subnetProps(a, { cidr: "10.71.0.0/24" }));
    alloc = await a.up(allocUrn, allocProps(a, { subnetId: subnet.id }));
    const idA = await a.direct.installationId();
    const moved = await createLeastPrivilegeDatabase("identmoved");
    const hosts: ProviderHost[] = [];
    try {
      const { Ipam } = await import("../../provider/store/index.js");
      const target = await Ipam.open({ databaseUrl: moved.url });
      await target.importSnapshot(await a.direct.exportSnapshot());
      const idMoved = await target.installationId();
      await target.close();
      expect(idMoved).not.toBe(idA);

      const plain = await startProviderHost(ciHostEnv());
      hosts.push(plain);
      await plain.configure({ "ipam:databaseUrl": moved.appUrl });
      await expect(plain.read(allocUrn, alloc.id, alloc.properties, alloc.properties)).rejects.toThrow(/DATABASE_MISMATCH/);

      const accepting = await startProviderHost(ciHostEnv());
      hosts.push(accepting);
      await accepting.configure({ "ipam:databaseUrl": moved.appUrl, "ipam:databaseMovedFrom": idA });
      const refreshed = await accepting.read(allocUrn, alloc.id, alloc.properties, alloc.properties);
      expect(refreshed.properties).toMatchObject({ addresses: alloc.properties.addresses, __database: idMoved });
      // Once refreshed, the state names the new database: the setting is no longer needed.
      const again = await plain.read(allocUrn, alloc.id, refreshed.properties, refreshed.properties);
      expect(again.properties.__database).toBe(idMoved);
      // ...and the old database is now the other one.
      await expect(a.host.read(allocUrn, alloc.id, refreshed.properties, refreshed.properties)).rejects.toThrow(/DATABASE_MISMATCH/);
    } finally {
      for (const host of hosts) await host.close();
      await moved.drop();
    }
  });

  it("the local embedded fallback never serves a resource created elsewhere: refused, naming the fallback and ipam:databaseUrl", async () => {
    // A laptop without ipam:databaseUrl or IPAM_DATABASE_URL (and not CI): the provider starts the
    // local embedded database, which has its own identity.
    const home = await mkdtemp(join(tmpdir(), "ipam-fallback-home-"));
    const { IPAM_DATABASE_URL: _url, CI: _ci, ...env } = process.env;
    const host = await startProviderHost({ ...env, IPAM_HOME: home });
    try {
      await host.configure({});
      const before = await databaseFingerprint(a.admin);
      const error = (await host.read(allocUrn, alloc.id, alloc.properties, alloc.properties).catch((e: unknown) => e)) as Error;
      expect(error.message).toContain("DATABASE_MISMATCH");
      expect(error.message).toContain("but the local embedded database (used because neither ipam:databaseUrl nor IPAM_DATABASE_URL is set) reaches");
      expect(error.message).toContain("pulumi config set --secret ipam:databaseUrl");
      await expect(host.delete(allocUrn, alloc.id, alloc.properties)).rejects.toThrow(/DATABASE_MISMATCH/);
      expect(await databaseFingerprint(a.admin)).toEqual(before);
    } finally {
      await host.close();
      await runCli(["db", "stop"], { IPAM_HOME: home });
      await rm(home, { recursive: true, force: true });
    }
  });
});

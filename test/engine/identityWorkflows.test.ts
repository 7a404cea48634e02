import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { editedProgram, openStack, repoRoot, type Stack, type Step } from "../../harness/engine/index.js";
import { Ipam } from "../../provider/store/index.js";
import { readCheckpoint, writeCheckpoint } from "../../harness/engine/checkpoint.js";
import { installPackage } from "../../harness/engine/program.js";
import { asDeployedBy010 } from "../helpers/legacyState.js";
import { databaseFingerprint } from "../helpers/databaseFingerprint.js";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.js";

// The "Done when" workflows (docs/identity.md), run with real programs through the modelled
// engine; every program gets pulumi-ipam the way a user does: the built package copied into its
// node_modules (installPackage), at a path of its own.
const quickstart = join(repoRoot, "examples", "quickstart");
const ops = (steps: Step[]) => Object.fromEntries(steps.map((s) => [s.name, s.op]));
const databases: TestDatabase[] = [];
const stacks: Stack[] = [];
const clients: pg.Client[] = [];

async function database(label: string): Promise<{ db: TestDatabase; client: pg.Client }> {
  const db = await createTestDatabase(label);
  databases.push(db);
  await (await Ipam.open({ databaseUrl: db.url })).close(); // migrated, as an administrator would
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  clients.push(client);
  return { db, client };
}

async function stack(options: Parameters<typeof openStack>[0]): Promise<Stack> {
  const opened = await openStack({ provideSdk: installPackage, ...options });
  stacks.push(opened);
  return opened;
}

const backendDirs: string[] = [];
const backend = async () => {
  const dir = await mkdtemp(join(tmpdir(), "ipam-backend-"));
  backendDirs.push(dir);
  return dir;
};
const counts = async (client: pg.Client) =>
  (await client.query("SELECT (SELECT count(*) FROM ipam.subnet)::int AS subnets, (SELECT count(*) FROM ipam.allocation)::int AS allocations")).rows[0];

/** The quickstart stack run from a checkout of its own (a package copy installed in it), whose directories are recorded. */
async function checkoutStack(databaseUrl: string, backendDir: string) {
  const checkoutA: string[] = [];
  const opened = await stack({
    programDir: quickstart,
    stack: "dev",
    backendDir,
    config: { "ipam:databaseUrl": databaseUrl },
    provideSdk: async (dir) => {
      checkoutA.push(dir);
      await installPackage(dir);
    },
  });
  return { stack: opened, checkoutA };
}

afterAll(async () => {
  for (const s of stacks) await s.close().catch(() => undefined);
  for (const c of clients) await c.end().catch(() => undefined);
  for (const db of databases) await db.drop();
  for (const dir of backendDirs) await rm(dir, { recursive: true, force: true });
});

describe("a stack moves between checkouts", () => {
  it("quickstart deployed from checkout A is previewed, updated, refreshed and destroyed from checkout B at another path", async () => {
    const { db, client } = await database("engmove");
    const backendDir = await backend();
    const { stack: a, checkoutA } = await checkoutStack(db.url, backendDir);
    await a.up();
    const deployed = await a.outputs();
    await a.close();
    // Checkout A (and the package installed in it) is gone; the state names nothing of it.
    for (const dir of checkoutA) await rm(dir, { recursive: true, force: true });
    const checkpoint = await readFile(a.checkpointFile, "utf8");
    for (const dir of checkoutA) expect(checkpoint).not.toContain(dir);
    expect(checkpoint).not.toContain(repoRoot);

    const b = await stack({ programDir: quickstart, stack: "dev", backendDir, config: { "ipam:databaseUrl": db.url } });
    expect(new Set(Object.values(ops(await b.preview())))).toEqual(new Set(["same"]));
    b.setProgram(await editedProgram(quickstart, (source) => source.replace("count: 2", "count: 3")));
    expect(ops(await b.up())).toMatchObject({ web: "update", lan: "same", db: "same" });
    const updated = await b.outputs();
    expect(updated.webAddresses).toEqual([...(deployed.webAddresses as string[]), "10.20.0.12"]);
    const refreshed = await b.refresh();
    expect(refreshed.filter((s) => s.gone === true)).toEqual([]);
    await b.destroy();
    expect(await b.state()).toEqual([]);
    expect(await counts(client)).toEqual({ subnets: 0, allocations: 0 });
  });
});

describe("a stack deployed by 0.1.0", () => {
  it("naming a removed checkout by absolute path: up from another checkout upgrades it, then refresh and destroy work", async () => {
    const { db, client } = await database("eng010");
    const backendDir = await backend();
    const { stack: a, checkoutA } = await checkoutStack(db.url, backendDir);
    await a.up();
    await a.close();
    // Rewrite the checkpoint as 0.1.0 left it: no stack identity resource, no __stack or
    // __database, the provider named by the absolute path of checkout A's package.
    const implementation = join(checkoutA[0]!, "node_modules", "pulumi-ipam", "dist", "provider", "dynamic", "index.js");
    const legacy = asDeployedBy010((await readCheckpoint(a.checkpointFile))!.checkpoint.latest.resources, implementation);
    await writeCheckpoint(a.checkpointFile, "dev", legacy, []);
    for (const dir of checkoutA) await rm(dir, { recursive: true, force: true });

    const b = await stack({ programDir: quickstart, stack: "dev", backendDir, config: { "ipam:databaseUrl": db.url } });
    // Every IPAM resource is updated once (Diff asks for it), nothing is replaced, and the preview says so.
    const expected = { "pulumi-ipam-stack": "create", lan: "update", web: "update", db: "update" };
    expect(ops(await b.preview())).toMatchObject(expected);
    const ids = Object.fromEntries(legacy.map((r) => [r.urn, r.id]));
    expect(ops(await b.up())).toMatchObject(expected);
    for (const r of await b.state()) if (ids[r.urn] !== undefined) expect(r.id).toBe(ids[r.urn]);
    const identity = await (async () => {
      const ipam = await Ipam.open({ databaseUrl: db.url });
      try {
        return await ipam.installationId();
      } finally {
        await ipam.close();
      }
    })();
    for (const r of (await b.state()).filter((x) => x.type.startsWith("pulumi-nodejs:dynamic/ipam:") && !x.type.endsWith(":StackIdentity"))) {
      expect(r.outputs.__database).toBe(identity);
      expect(String(r.outputs.__provider)).not.toContain(implementation);
    }
    expect(new Set(Object.values(ops(await b.preview())))).toEqual(new Set(["same"]));
    expect((await b.refresh()).filter((s) => s.gone === true)).toEqual([]);
    await b.destroy();
    expect(await counts(client)).toEqual({ subnets: 0, allocations: 0 });
  });
});

describe("a stack pointed at the wrong database", () => {
  it("refresh and destroy against a second database with overlapping ids fail clearly; both databases and the state are unchanged", async () => {
    const right = await database("engright");
    const wrong = await database("engwrong");
    // The second database holds someone else's subnet and allocations under the same ids.
    const other = await Ipam.open({ databaseUrl: wrong.db.url });
    const subnet = await other.createSubnet({ cidr: "172.16.0.0/24" });
    for (const owner of ["ops/manual-4", "ops/manual-5", "ops/manual-6"]) await other.allocate({ subnetId: subnet.id, owner });
    const wrongId = await other.installationId();
    await other.close();

    const backendDir = await backend();
    const deployed = await stack({ programDir: quickstart, stack: "dev", backendDir, config: { "ipam:databaseUrl": right.db.url } });
    await deployed.up();
    const rightId = (await deployed.state()).find((r) => r.type.endsWith(":Subnet"))!.outputs.__database;
    // The state as `pulumi stack export` shows it, without the manifest's write time: a failed delete
    // is still recorded as pending and then ended (snapshot.go, BeginMutation / End), so the file is rewritten.
    const exported = async () => {
      const { resources, pending_operations } = (await readCheckpoint(deployed.checkpointFile))!.checkpoint.latest;
      return { resources, pending_operations };
    };
    const state = await exported();
    const before = [await databaseFingerprint(right.client), await databaseFingerprint(wrong.client)];

    const misdirected = await stack({ programDir: quickstart, stack: "dev", backendDir, config: { "ipam:databaseUrl": wrong.db.url } });
    for (const attempt of [() => misdirected.refresh(), () => misdirected.destroy()]) {
      const error = (await attempt().catch((e: unknown) => e)) as Error;
      expect(error.message).toContain("DATABASE_MISMATCH");
      expect(error.message).toContain(String(rightId));
      expect(error.message).toContain(wrongId);
      expect(error.message).toContain("ipam:databaseUrl");
      expect(error.message).not.toMatch(/postgres(ql)?:\/\//);
    }
    expect([await databaseFingerprint(right.client), await databaseFingerprint(wrong.client)]).toEqual(before);
    expect(await exported()).toEqual(state);

    await deployed.destroy();
    expect(await counts(right.client)).toEqual({ subnets: 0, allocations: 0 });
  });
});

describe("two stacks proj/dev from two backends", () => {
  let program: string;
  beforeAll(async () => {
    // Same program in both: a child subnet from a shared pool, an address from a shared subnet.
    program = await mkdtemp(join(tmpdir(), "ipam-twostacks-"));
    await writeFile(join(program, "Pulumi.yaml"), "name: proj\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n");
    await writeFile(join(program, "package.json"), JSON.stringify({ name: "proj", private: true, type: "module", main: "index.ts" }));
    await writeFile(
      join(program, "index.ts"),
      [
        `import * as pulumi from "@pulumi/pulumi";`,
        `import { IpAllocation, Subnet } from "pulumi-ipam";`,
        `const config = new pulumi.Config();`,
        `const app = new Subnet("app", { parentId: config.require("poolId"), prefixLength: 24 });`,
        `const vip = new IpAllocation("vip", { subnetId: config.require("sharedId") });`,
        `const web = new IpAllocation("web", { subnetId: app.subnetId, count: 2 });`,
        `export const appCidr = app.cidr;`,
        `export const vipAddress = vip.address;`,
        `export const webAddresses = web.addresses;`,
      ].join("\n"),
    );
  });
  afterAll(async () => {
    if (program !== undefined) await rm(program, { recursive: true, force: true });
  });

  it("deployed at once: distinct subnets and addresses; each destroy frees only its own", async () => {
    const { db, client } = await database("engtwo");
    const fixtures = await Ipam.open({ databaseUrl: db.url });
    const pool = await fixtures.createSubnet({ cidr: "10.90.0.0/16", childrenOnly: true });
    const shared = await fixtures.createSubnet({ cidr: "10.91.0.0/24" });
    const config = { "ipam:databaseUrl": db.url, "proj:poolId": pool.id, "proj:sharedId": shared.id };
    const [one, two] = await Promise.all([backend(), backend()].map(async (dir) => stack({ programDir: program, stack: "dev", backendDir: await dir, config })));
    await Promise.all([one!.up(), two!.up()]);
    const [outOne, outTwo] = [await one!.outputs(), await two!.outputs()];
    expect(outOne.appCidr).not.toBe(outTwo.appCidr);
    expect(outOne.vipAddress).not.toBe(outTwo.vipAddress);
    expect(outOne.webAddresses).not.toEqual(outTwo.webAddresses);

    await one!.destroy();
    expect(await fixtures.whoHolds(shared.id, String(outOne.vipAddress))).toBeNull();
    expect((await fixtures.whoHolds(shared.id, String(outTwo.vipAddress)))?.owner).toBe("proj/dev/vip");
    expect((await fixtures.listSubnets()).map((s) => s.cidr)).toEqual(expect.arrayContaining([outTwo.appCidr]));
    expect((await fixtures.listSubnets()).map((s) => s.cidr)).not.toContain(outOne.appCidr);
    await two!.destroy();
    expect(await counts(client)).toEqual({ subnets: 2, allocations: 0 }); // the fixtures only
    await fixtures.close();
  });

  it("crashes right after the stack identity's create and after an allocation's create: the retries leak nothing", async () => {
    const { db, client } = await database("engcrash");
    const s = await stack({ programDir: quickstart, stack: "dev", backendDir: await backend(), config: { "ipam:databaseUrl": db.url } });
    await expect(s.up({ crashAfterCreate: "pulumi-ipam-stack" })).rejects.toThrow(/crashed after creating/);
    await expect(s.up({ crashAfterCreate: "web" })).rejects.toThrow(/crashed after creating/);
    const held = (await client.query("SELECT id::text FROM ipam.allocation WHERE owner = 'ipam-quickstart/dev/web'")).rows;
    expect(held).toHaveLength(1);
    await s.up();
    expect((await s.state()).find((r) => r.urn.endsWith("::web"))!.id).toBe(held[0].id);
    expect(await counts(client)).toEqual({ subnets: 1, allocations: 2 });
    await s.destroy();
    expect(await counts(client)).toEqual({ subnets: 0, allocations: 0 });
  });
});

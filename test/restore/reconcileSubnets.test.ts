import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { editedProgram, SECRET_SIG, SECRET_VALUE, type Stack } from "../../harness/engine/index.js";
import { Ipam } from "../../provider/store/index.js";
import { runCli } from "../helpers/cliRunner.js";
import { engineBed, examplesDir, type EngineBed } from "../helpers/engineStacks.js";
import { dump, dumpTools, exportSealedState, restore } from "../helpers/logicalBackup.js";

/**
 * Issue 23, reconcile round two: a subnet (and a child of it) created after the backup is re-created
 * by `ipam reconcile --from-state` with its id, CIDR, parent, layout and settings, before the
 * allocations under it; a subnet whose block (or id) is meanwhile held elsewhere is reported with
 * both holders and never overwritten. Exports are sealed as `pulumi stack export` writes them.
 */
let bed: EngineBed;
let work: string;
let bin: string | undefined;

const network = join(examplesDir, "multi-stack", "network");
const app = join(examplesDir, "multi-stack", "app");
const SECRET_TEXT = "edge-description-known-only-to-the-stack";

beforeAll(async () => {
  bin = await dumpTools();
  bed = await engineBed("reconcile27");
  work = await mkdtemp(join(tmpdir(), "ipam-reconcile-"));
});
afterAll(async () => {
  await bed?.close();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

const ipam = (args: string[]) => runCli(args, { IPAM_DATABASE_URL: bed.db.url });

async function query<T>(text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: bed.db.url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as T[];
  } finally {
    await client.end();
  }
}

const holders = () =>
  query<{ address: string; owner: string; id: string }>(
    "SELECT host(x.address) AS address, a.owner, a.id::text AS id FROM ipam.allocated_address x JOIN ipam.allocation a ON a.id = x.allocation_id ORDER BY x.address",
  );

const allocationRows = (ids: readonly (string | undefined)[]) =>
  query<Record<string, unknown>>(
    "SELECT id::text AS id, subnet_id::text AS subnet_id, owner, idempotency_key, strategy, host(requested_address) AS requested, description, tags FROM ipam.allocation WHERE id = ANY($1::bigint[]) ORDER BY id",
    [ids],
  );

const subnetRows = () =>
  query<Record<string, unknown>>(
    `SELECT s.id::text AS id, s.cidr::text AS cidr, n.name AS namespace, s.parent_id::text AS parent_id, host(s.gateway) AS gateway, s.pools, s.pools_explicit,
            s.reserved, s.description, s.tags, s.children_only, s.min_prefix_length, s.max_prefix_length, s.default_prefix_length,
            s.release_hold_seconds, s.claim, s.idempotency_key
     FROM ipam.subnet s JOIN ipam.namespace n ON n.id = s.namespace_id ORDER BY s.id`,
  );

/** The network program with more resources after the apps subnet. */
const networkWith = (extra: string) => (source: string) =>
  `${source.replace('import { Subnet } from "pulumi-ipam";', 'import * as pulumi from "@pulumi/pulumi";\nimport { IpAllocation, Subnet } from "pulumi-ipam";')}\n${extra}\n`;

const EDGE = `
const edge = new Subnet("edge", {
  cidr: "10.40.0.0/22", namespace: "prod", gateway: "10.40.0.1", reserved: ["10.40.0.2", "10.40.0.8/30"],
  allocationPools: [{ start: "10.40.0.3", end: "10.40.0.200" }], description: pulumi.secret("${SECRET_TEXT}"),
  tags: { team: "edge" }, minPrefixLength: 24, maxPrefixLength: 28, defaultPrefixLength: 26, releaseHoldSeconds: 300,
});
const edgeWeb = new Subnet("edge-web", { parentId: edge.subnetId, prefixLength: 24, description: "web tier", tags: { tier: "web" } });
export const e1 = new IpAllocation("e1", { subnetId: edge.subnetId, count: 2 }).addresses;
export const w1 = new IpAllocation("w1", { subnetId: edgeWeb.subnetId, strategy: "random" }).addresses;
`;
const LATE = `
const late = new Subnet("late", { cidr: "10.60.0.0/24", namespace: "prod" });
export const l1 = new IpAllocation("l1", { subnetId: late.subnetId }).addresses;
`;

const byName = (state: Awaited<ReturnType<Stack["state"]>>, name: string) => state.find((r) => r.urn.endsWith(`::${name}`))!;

describe("reconcile re-creates subnets created after the backup", () => {
  it("re-creates a subnet and its child with the same ids, layout and allocations; idempotent; a meanwhile overlapping subnet is reported, not overwritten", async ({ skip }) => {
    if (bin === undefined) skip("no pg_dump for this server's major version on this machine");
    const net = await bed.stack(network, "prod");
    await net.up();
    const stackA = await bed.stack(app, "ci-1");
    const stackB = await bed.stack(app, "ci-2");
    await stackA.up();
    const beforeEdge = await dump(bin!, bed.db.url, join(work, "before-edge.dump"));

    net.setProgram(await editedProgram(network, networkWith(EDGE)));
    await net.up();
    const state = await net.state();
    const [edge, edgeWeb, e1, w1] = ["edge", "edge-web", "e1", "w1"].map((name) => byName(state, name));
    const before = await subnetRows();
    const recreated = before.filter((row) => row.id === edge.id || row.id === edgeWeb.id);
    expect(recreated.map((row) => row.parent_id)).toEqual([null, edge.id]);
    const addressesBefore = (await holders()).filter((h) => h.id === e1.id || h.id === w1.id);
    expect(addressesBefore).toHaveLength(3);
    const allocationsBefore = await allocationRows([e1.id, w1.id]);
    const exports = [await exportSealedState(bed.backendDir, "ipam-network", "prod", work), await exportSealedState(bed.backendDir, "ipam-app", "ci-1", work)];

    await restore(bin!, bed.db, beforeEdge);
    // The stack's refresh fails naming what is lost and the recovery, never "deleted".
    await expect(net.refresh()).rejects.toThrow(/ipam reconcile/);
    const afterRestore = await bed.counts();

    const dry = await ipam(["reconcile", "--from-state", ...exports, "--dry-run", "--json"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({
      dryRun: true,
      subnets: { restored: [{ subnetId: edge.id, cidr: "10.40.0.0/22" }, { subnetId: edgeWeb.id, parentId: edge.id }], conflicts: [], skipped: [] },
      restored: expect.arrayContaining([expect.objectContaining({ allocationId: e1.id }), expect.objectContaining({ allocationId: w1.id })]),
    });
    expect(await bed.counts()).toEqual(afterRestore);
    await expect(stackB.up()).rejects.toThrow(/DATABASE_RESTORED/);

    const done = await ipam(["reconcile", "--from-state", ...exports]);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect(done.stdout).toMatch(new RegExp(`subnet ${edge.id} 10\\.40\\.0\\.0/22 .*description secret in state`));
    expect(done.stdout + done.stderr).not.toContain(SECRET_TEXT);
    // Every column as it was (idempotency keys included), but the secret description (left empty, never
    // decrypted) and the claim: the state's resource is recorded as the subnet's latest claimant.
    const after = (await subnetRows()).filter((row) => row.id === edge.id || row.id === edgeWeb.id);
    const claimed = (row: Record<string, unknown>, resource: typeof edge) => ({ ...row, claim: resource.outputs.__claim });
    expect(after).toEqual([claimed({ ...recreated[0]!, description: "" }, edge), claimed(recreated[1]!, edgeWeb)]);
    expect((await holders()).filter((h) => h.id === e1.id || h.id === w1.id)).toEqual(addressesBefore);
    // Owners, strategies and idempotency keys as the provider made them (a random one's key included: read from the engine's inputs, `__inputs` being sealed).
    expect(await allocationRows([e1.id, w1.id])).toEqual(allocationsBefore);
    expect(JSON.stringify(await query("SELECT detail FROM ipam.audit_event"))).not.toContain(SECRET_TEXT);

    // Idempotent: a second run finds everything held.
    const again = JSON.parse((await ipam(["reconcile", "--from-state", ...exports, "--json"])).stdout);
    expect(again).toMatchObject({ detected: null, restored: [], conflicts: [], subnets: { restored: [], conflicts: [], skipped: [] } });
    const apps = byName(state, "apps");
    expect(again.subnets.alreadyHeld.map((s: { subnetId: string }) => s.subnetId)).toEqual([apps.id, edge.id, edgeWeb.id]);

    // The stacks refresh without losing anything; the network's next up writes the secret description back.
    const refreshed = await net.refresh();
    expect(refreshed.filter((step) => step.gone === true)).toEqual([]);
    expect(refreshed.filter((step) => step.drift === "update").map((step) => step.name)).toEqual(["edge"]);
    await net.up();
    expect((await subnetRows()).find((row) => row.id === edge.id)?.description).toBe(SECRET_TEXT);
    await stackB.up();
    for (const stack of [net, stackA, stackB]) {
      const steps = await stack.refresh();
      expect(steps.filter((step) => step.gone === true || step.drift === "update"), stack.name).toEqual([]);
    }
    const held = await holders();
    expect(new Set(held.map((h) => h.address)).size).toBe(held.length);
    // New ids are past every id a stack holds; a new child of the re-created parent does not land on edge-web's block.
    const bId = byName(await stackB.state(), "vip").id!;
    expect(BigInt(bId)).toBeGreaterThan(BigInt(w1.id!));
    const store = await Ipam.open({ databaseUrl: bed.db.url });
    try {
      const next = await store.createSubnet({ parentId: edge.id!, prefixLength: 24 });
      expect([next.cidr, edgeWeb.outputs.cidr]).toEqual(["10.40.2.0/24", "10.40.1.0/24"]);
      await store.deleteSubnet(next.id);
    } finally {
      await store.close();
    }
    expect((await ipam(["history", "--json"])).stdout).toMatch(/subnet\.import/);

    // Conflict: "late" is created after a dump; the restore is accepted; an operator takes an overlapping block first.
    const beforeLate = await dump(bin!, bed.db.url, join(work, "before-late.dump"));
    net.setProgram(await editedProgram(network, networkWith(EDGE + LATE)));
    await net.up();
    const late = byName(await net.state(), "late");
    const l1 = byName(await net.state(), "l1");
    const withLate = await exportSealedState(bed.backendDir, "ipam-network", "prod", work);
    await restore(bin!, bed.db, beforeLate);
    expect((await ipam(["db", "accept-restore"])).code).toBe(0);
    const squatter = await ipam(["subnet", "create", "10.60.0.0/23", "--namespace", "prod", "--json"]);
    expect(squatter.code, squatter.stderr).toBe(0);
    const squatterId = String(JSON.parse(squatter.stdout).id);
    const conflict = await ipam(["reconcile", "--from-state", withLate, "--json"]);
    expect(conflict.code).toBe(1);
    const report = JSON.parse(conflict.stdout);
    expect(report.subnets.conflicts).toEqual([
      expect.objectContaining({
        subnetId: late.id,
        reason: expect.stringContaining(`subnet ${squatterId} (10.60.0.0/23)`),
        state: expect.objectContaining({ subnetId: late.id, cidr: "10.60.0.0/24", urn: late.urn }),
        database: { subnetId: squatterId, cidr: "10.60.0.0/23", namespace: "prod" },
      }),
    ]);
    expect(report.skipped).toEqual([expect.objectContaining({ allocationId: l1.id, reason: expect.stringContaining(`subnet ${late.id}`) })]);
    const rows = await subnetRows();
    expect(rows.some((row) => row.id === late.id)).toBe(false);
    expect(rows.find((row) => row.id === squatterId)?.cidr).toBe("10.60.0.0/23");
  }, 900_000);
});

describe("reconcile's subnet checks", () => {
  it("reports an id meanwhile used with both holders, skips a child without its parent and a subnet whose layout is secret, and prints no secret", async () => {
    const created = await ipam(["subnet", "create", "10.70.0.0/24", "--namespace", "lab", "--json"]);
    expect(created.code, created.stderr).toBe(0);
    const taken = String(JSON.parse(created.stdout).id);
    const subnet = (id: string, outputs: Record<string, unknown>) => ({
      urn: `urn:pulumi:lab::net::pulumi-nodejs:dynamic/ipam:Subnet::s${id}`,
      custom: true,
      type: "pulumi-nodejs:dynamic/ipam:Subnet",
      id,
      outputs: { subnetId: id, namespace: "lab", parentId: null, ipVersion: 4, size: 256, allocationPools: [], __poolsExplicit: false, reserved: [], tags: {}, description: "", ...outputs },
    });
    const secretGateway = { [SECRET_SIG]: SECRET_VALUE, value: "10.72.0.77" };
    const file = join(work, "hand-export.json");
    await writeFile(
      file,
      JSON.stringify({
        version: 3,
        deployment: {
          resources: [
            subnet(taken, { cidr: "10.71.0.0/24" }),
            subnet("900001", { cidr: "10.72.0.0/24", gateway: secretGateway }),
            subnet("900002", { cidr: "10.73.0.0/25", parentId: "900003" }),
          ],
        },
      }),
    );
    const before = await subnetRows();
    for (const dryRun of [["--dry-run"], []]) {
      const result = await ipam(["reconcile", "--from-state", file, "--json", ...dryRun]);
      expect(result.code).toBe(1);
      expect(result.stdout + result.stderr).not.toContain("10.72.0.77");
      const report = JSON.parse(result.stdout);
      expect(report.subnets.conflicts).toEqual([
        expect.objectContaining({ subnetId: taken, reason: expect.stringContaining("10.70.0.0/24"), state: expect.objectContaining({ cidr: "10.71.0.0/24" }), database: { subnetId: taken, cidr: "10.70.0.0/24", namespace: "lab" } }),
      ]);
      expect(report.subnets.skipped).toEqual([
        expect.objectContaining({ subnetId: "900001", reason: expect.stringContaining("gateway is secret") }),
        expect.objectContaining({ subnetId: "900002", reason: expect.stringContaining("parent subnet 900003") }),
      ]);
      expect(await subnetRows()).toEqual(before);
    }
  }, 300_000);
});

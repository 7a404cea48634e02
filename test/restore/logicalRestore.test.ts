import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { editedProgram, type Stack } from "../../harness/engine/index.js";
import { runCli } from "../helpers/cliRunner.js";
import { engineBed, examplesDir, type EngineBed } from "../helpers/engineStacks.js";
import { dump as dumpTo, dumpTools, exportState as exportOpened, restore as restoreFrom } from "../helpers/logicalBackup.js";

/**
 * Issue 23, logical: a stack allocates A1; pg_dump; it allocates A2 (two addresses); the database
 * is restored from the dump. Refresh must not report A2 deleted, other stacks must not be handed
 * A2's addresses, and `ipam reconcile --from-state` puts A2 back. The dump tools must match the
 * server's major version, so this runs where the machine has them (the system PostgreSQL pass).
 */
let bed: EngineBed;
let work: string;
let bin: string | undefined;

const network = join(examplesDir, "multi-stack", "network");
const app = join(examplesDir, "multi-stack", "app");

beforeAll(async () => {
  bin = await dumpTools();
  bed = await engineBed("restore23");
  work = await mkdtemp(join(tmpdir(), "ipam-restore-"));
});
afterAll(async () => {
  await bed?.close();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

const dump = (name: string) => dumpTo(bin!, bed.db.url, join(work, `${name}.dump`));
const restore = (file: string) => restoreFrom(bin!, bed.db, file);
const exportState = (stack: Stack) => exportOpened(stack, work);

const ipam = (args: string[]) => runCli(args, { IPAM_DATABASE_URL: bed.db.url });

async function holders(): Promise<{ address: string; owner: string; id: string }[]> {
  const client = new pg.Client({ connectionString: bed.db.url });
  await client.connect();
  try {
    const { rows } = await client.query(
      "SELECT host(x.address) AS address, a.owner, a.id::text AS id FROM ipam.allocated_address x JOIN ipam.allocation a ON a.id = x.allocation_id ORDER BY x.address",
    );
    return rows;
  } finally {
    await client.end();
  }
}

const withExtra = (name: string, args: string) => (source: string) => `${source}\nexport const ${name} = new IpAllocation("${name}", { subnetId: network.requireOutput("appsSubnetId").apply(String), ${args} }).addresses;\n`;

describe("restore from a pg_dump", () => {
  it("refresh names the lost allocation, writes fail closed, reconcile puts it back; a conflict is reported, not overwritten", async ({ skip }) => {
    if (bin === undefined) skip("no pg_dump for this server's major version on this machine");
    await (await bed.stack(network, "prod")).up();
    const stackA = await bed.stack(app, "ci-1");
    const stackB = await bed.stack(app, "ci-2");
    await stackA.up();
    const beforeA2 = await dump("before-a2");
    stackA.setProgram(await editedProgram(app, withExtra("a2", "count: 2")));
    await stackA.up();
    const a2 = (await stackA.state()).find((r) => r.urn.endsWith("::a2"))!;
    const a2Addresses = a2.outputs.addresses as string[];
    expect(a2Addresses).toHaveLength(2);
    const stateA = await exportState(stackA);

    await restore(beforeA2);
    // Refresh: an error naming A2 and the recovery, never "deleted".
    const refused = await stackA.refresh().then(() => undefined, (error: Error) => error);
    expect(String(refused?.message)).toMatch(new RegExp(`allocation ${a2.id}.*ipam reconcile`, "s"));
    expect((await stackA.state()).some((r) => r.urn.endsWith("::a2"))).toBe(true);
    // Another stack is handed nothing: its allocation fails with DATABASE_RESTORED.
    await expect(stackB.up()).rejects.toThrow(/DATABASE_RESTORED/);
    expect((await holders()).map((h) => h.address)).not.toEqual(expect.arrayContaining([a2Addresses[0]]));

    const dry = await ipam(["reconcile", "--from-state", stateA, "--dry-run", "--json"]);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, detected: { kind: "copied" }, restored: [{ allocationId: a2.id }] });
    await expect(stackB.up()).rejects.toThrow(/DATABASE_RESTORED/);

    const done = await ipam(["reconcile", "--from-state", stateA, "--json"]);
    expect(done.code, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ restored: [{ allocationId: a2.id, addresses: a2Addresses }], conflicts: [], reopened: true });
    // Idempotent: a second run finds everything held and changes nothing.
    const again = JSON.parse((await ipam(["reconcile", "--from-state", stateA, "--json"])).stdout);
    expect(again).toMatchObject({ detected: null, restored: [], conflicts: [] });
    expect(again.alreadyHeld.length).toBe(2);

    expect(await stackA.refresh()).not.toContainEqual(expect.objectContaining({ gone: true }));
    await stackB.up();
    const held = await holders();
    expect(new Set(held.map((h) => h.address)).size).toBe(held.length);
    expect(held.filter((h) => a2Addresses.includes(h.address)).every((h) => h.id === a2.id)).toBe(true);
    // Ids issued after the restore are past every id a stack held.
    const bId = (await stackB.state()).find((r) => r.urn.endsWith("::vip"))!.id!;
    expect(BigInt(bId)).toBeGreaterThan(BigInt(a2.id!));
    const history = await ipam(["history", "--json"]);
    expect(history.stdout).toMatch(/database\.reconcile/);

    // Conflict: A pins an address after a dump; the restore is accepted; stack C takes that address first.
    const beforePin = await dump("before-pin");
    stackA.setProgram(await editedProgram(app, (source) => withExtra("pin", 'address: "10.30.3.200"')(withExtra("a2", "count: 2")(source))));
    await stackA.up();
    const pin = (await stackA.state()).find((r) => r.urn.endsWith("::pin"))!;
    const stateWithPin = await exportState(stackA);
    await restore(beforePin);
    expect((await ipam(["db", "accept-restore"])).code).toBe(0);
    const stackC = await bed.stack(app, "ci-3");
    stackC.setProgram(await editedProgram(app, withExtra("pin", 'address: "10.30.3.200"')));
    await stackC.up();
    const conflict = await ipam(["reconcile", "--from-state", stateWithPin, "--json"]);
    expect(conflict.code).toBe(1);
    const report = JSON.parse(conflict.stdout);
    expect(report.conflicts).toEqual([
      expect.objectContaining({
        allocationId: pin.id,
        reason: expect.stringContaining("10.30.3.200"),
        state: expect.objectContaining({ owner: pin.outputs.owner }),
        database: expect.objectContaining({ owner: expect.stringContaining("ci-3") }),
      }),
    ]);
    expect((await holders()).find((h) => h.address === "10.30.3.200")?.owner).toContain("ci-3");
  }, 600_000);
});

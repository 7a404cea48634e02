import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonError, jsonOf, runCli } from "../helpers/cliRunner.js";

/**
 * The embedded default: `ipam db ...` and `ipam demo` against a local database whose home is a
 * temporary directory, with CI=true as on the CI machine (explicit `db start` and `demo` are
 * allowed there; a data command alone never starts a database).
 */
let home: string;
let env: Record<string, string>;
const ipam = (args: string[]) => runCli(args, env);

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), "ipam-cli-home-"));
  env = { IPAM_HOME: home, CI: "true" };
});
afterAll(async () => {
  if (home) {
    await ipam(["db", "stop"]);
    await rm(home, { recursive: true, force: true });
  }
});

describe("ipam db and ipam demo on the embedded default database", () => {
  it("starts, reports, prints its URL, runs the demo twice (idempotent), serves data commands, stops", async () => {
    expect(jsonOf(await ipam(["db", "status", "--json"]))).toEqual({ home, initialised: false, running: false, port: null });
    const refused = await ipam(["subnet", "list", "--json"]);
    expect(refused.code).toBe(1);
    expect(jsonError(refused)).toMatchObject({ code: "CONFIGURATION", message: expect.stringContaining("ipam db start") });
    expect(existsSync(join(home, "postgres"))).toBe(false);

    const started = jsonOf(await ipam(["db", "start", "--json"]));
    expect(started).toMatchObject({ home, initialised: true, running: true, port: expect.any(Number) });
    expect((await ipam(["db", "start"])).stdout).toContain(`running (data and its socket under ${home}; no TCP port)`);
    const url = (await ipam(["db", "url"])).stdout.trim();
    // A Unix socket in the private data directory (issue 22 item 1), never a TCP port.
    const socketHost = encodeURIComponent(join(home, "postgres")).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    expect(url).toMatch(new RegExp(`^postgres://postgres:[A-Za-z0-9_-]+@${socketHost}:${started.port}/ipam$`));
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    expect((await client.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    await client.end();
    const password = decodeURIComponent(new URL(url).password);

    const map = join(home, "demo.svg");
    const demo = await ipam(["demo", "--out", map]);
    expect(demo.code, demo.stderr).toBe(0);
    expect(demo.stdout).toContain("8 stacks: 58 new allocation(s), 0 returned by idempotency key");
    expect(demo.stdout).toContain("none held twice");
    expect(demo.stdout).toContain("Namespaces");
    expect(demo.stdout).toContain(`map of 10.42.0.0/24 written to ${map}`);
    expect(await readFile(map, "utf8")).toMatch(/^<svg [^>]*>[\s\S]*stack-8[\s\S]*<\/svg>\n$/);
    for (const output of [demo.stdout, demo.stderr]) expect(output).not.toContain(password);

    const usage = jsonOf(await ipam(["usage", "--namespace", "demo", "--json"]));
    const web = usage.subnets.find((s: { subnet: { cidr: string } }) => s.subnet.cidr === "10.42.0.0/24");
    expect(web.owners.map((o: { owner: string }) => o.owner).sort()).toEqual(Array.from({ length: 8 }, (_, i) => `stack-${i + 1}`).sort());
    expect(web.outsidePool).toEqual([{ address: "10.42.0.220", owner: "stack-1", allocationId: expect.any(String) }]);
    expect(web.usage).toMatchObject({ allocated: "65", poolSize: "190", free: "126" });

    const rerun = await ipam(["demo", "--out", map]);
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toContain("8 stacks: 1 new allocation(s), 57 returned by idempotency key from an earlier run, 1 rolled back");
    expect(jsonOf(await ipam(["usage", "--namespace", "demo", "--json"]))).toEqual(usage);
    const rollback = jsonOf(await ipam(["history", "--owner", "stack-8", "--json"]));
    expect(rollback.events.filter((e: { action: string }) => e.action === "release")).toHaveLength(2);

    expect((await ipam(["db", "stop"])).stdout).toContain("local database stopped");
    expect(jsonOf(await ipam(["db", "status", "--json"]))).toMatchObject({ initialised: true, running: false });
    expect((await ipam(["db", "stop"])).stdout).toContain("was not running");
  });
});

import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { adminDatabaseUrl } from "../helpers/testDatabase.js";

const RUN = fileURLToPath(new URL("../../dist/bench/run.js", import.meta.url));

function runBench(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  if (!existsSync(RUN)) throw new Error(`${RUN} is missing: run \`npm run build\` first`);
  const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", NO_COLOR: "1", DATABASE_URL: adminDatabaseUrl() };
  return new Promise((resolve) => {
    execFile(process.execPath, [RUN, ...args], { env, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr });
    });
  });
}

// A smoke test only: the numbers of a --quick run on a shared machine mean nothing, so nothing here
// compares a time or a rate with a threshold.
describe("npm run bench --quick", () => {
  it("runs every scenario against same-run baselines and writes them as JSON", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ipam-bench-test-"));
    try {
      const file = join(dir, "bench.json");
      const result = await runBench(["--quick", "--json", file]);
      expect(result.stderr).not.toMatch(/bench failed/);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain("one-key locked insert");
      expect(result.stdout).not.toMatch(/postgres:\/\//);
      const report = JSON.parse(await readFile(file, "utf8"));
      expect(report.server).toMatch(/^PostgreSQL \d+/);
      for (const baseline of ["plainInsert1", "plainInsert16", "lockedInsert16"]) {
        expect(report.baselines[baseline].perSecond).toBeGreaterThan(0);
        expect(report.baselines[baseline].operations).toBeGreaterThan(0);
      }
      const ids = report.scenarios.map((scenario: { id: string }) => scenario.id);
      expect(ids).toEqual(["1-one-subnet", "2-many-subnets", "3-latency-vs-fill", "4-bulk", "5-random-at-90pct", "6-neutron-ablation", "7-provider-path", "8-history-at-scale", "9-random-bulk-fragmented", "10-usage-and-paging-at-scale", "11-export-import-at-scale", "12-usage-tree-at-scale", "13-whole-up", "14-web-view-at-scale", "15-preview-report-at-scale", "16-hold-down", "17-import-scaling"]);
      for (const scenario of report.scenarios) {
        expect(scenario.notMeasured, scenario.id).toBeUndefined();
        // A scenario without a target in the issue reports its headline figures instead of checks.
        expect(scenario.checks.length + (scenario.reported?.length ?? 0), scenario.id).toBeGreaterThan(0);
        for (const reported of scenario.reported ?? []) expect(Number.isFinite(reported.value), `${scenario.id} ${reported.name}`).toBe(true);
        for (const check of scenario.checks) {
          expect(typeof check.value, `${scenario.id} ${check.name}`).toBe("number");
          expect(Number.isFinite(check.value)).toBe(true);
          expect(check.met).toBe(check.direction === "atLeast" ? check.value >= check.target : check.value <= check.target);
          if (!check.met) expect(check.reason).toMatch(/\d/);
        }
      }
      // The fill really happened: latency was sampled at every level, and the Neutron run counted its retries.
      const fill = report.scenarios[2].figures;
      for (const level of [0, 100, 1000, 5000]) expect(fill[`ipv6P50MsAt${level}`]).toBeGreaterThan(0);
      expect(report.scenarios[5].figures.neutronRetries).toBeGreaterThanOrEqual(0);
      // Both paths of the provider scenario did every allocation, and every host's peak RSS was read.
      const provider = report.scenarios[6].figures;
      expect(provider.errors).toBe(0);
      expect(provider.directCreatesPerSecond).toBeGreaterThan(0);
      expect(provider.providerCreatesPerSecond).toBeGreaterThan(0);
      for (let host = 0; host < provider.hosts; host += 1) expect(provider[`hostPeakRssMiB/ci-${host}`]).toBeGreaterThan(0);
      // Connections per host with the old pool size and the default: each host used some, never more than its pool.
      const pools = Object.keys(provider).filter((key) => /^pool\d+PeakConnectionsPerHost$/.test(key));
      expect(pools).toHaveLength(2);
      for (const key of pools) {
        expect(provider[key], key).toBeGreaterThan(0);
        expect(provider[key], key).toBeLessThanOrEqual(Number(/\d+/.exec(key)![0]));
        expect(provider[key.replace("PeakConnectionsPerHost", "CreatesPerSecond")], key).toBeGreaterThan(0);
      }
      // Group commit really batched (issue 14), and the history scenario measured both sizes.
      expect(report.scenarios[0].figures.allocationsPerCommit).toBeGreaterThan(1);
      const history = report.scenarios[7].figures;
      expect(history.largeEvents).toBeGreaterThan(history.smallEvents);
      for (const name of ["addressP50SmallMs", "addressP50LargeMs", "ownerP50SmallMs", "ownerP50LargeMs"]) expect(history[name], name).toBeGreaterThan(0);
      // Operations at scale (issue 14 part 3): both sizes measured, the export's peak RSS read at each, the import done.
      const [usage, snapshot, tree] = [report.scenarios[9].figures, report.scenarios[10].figures, report.scenarios[11].figures];
      expect(usage.largeSubnets).toBeGreaterThan(usage.smallSubnets);
      for (const name of ["listDeepPageP50LargeMs", "usageDeepPageP50LargeMs", "cliUsageLargeSeconds"]) expect(usage[name], name).toBeGreaterThan(0);
      expect(snapshot.largeAllocations).toBeGreaterThan(snapshot.smallAllocations);
      for (const name of ["exportSmallPeakRssMiB", "exportMiddlePeakRssMiB", "exportLargePeakRssMiB", "importLargePeakRssMiB", "largeFileMiB"]) expect(snapshot[name], name).toBeGreaterThan(0);
      expect(tree.shownLarge).toBeGreaterThan(tree.shownSmall);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 600_000); // seventeen scenarios, even at --quick sizes, take about two minutes: past the default 120 s bound

  it("--only runs the chosen scenarios and refuses an unknown one", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ipam-bench-test-"));
    try {
      const file = join(dir, "bench.json");
      const result = await runBench(["--quick", "--only", "2", "--json", file]);
      expect(result.code).toBe(0);
      expect(JSON.parse(await readFile(file, "utf8")).scenarios.map((scenario: { id: string }) => scenario.id)).toEqual(["2-many-subnets"]);
      const refused = await runBench(["--quick", "--only", "99"]);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain("--only takes scenario numbers");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

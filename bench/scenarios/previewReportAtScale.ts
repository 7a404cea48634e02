import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ipam } from "../../provider/store/Ipam.js";
import type { BenchContext } from "../benchContext.js";
import { runCli } from "../cliProcess.js";
import { ratio, round } from "../measure.js";
import { check, type ScenarioResult } from "../scenarioResult.js";

const SCHEMA = "ipam_bench_preview";
const ALLOCATION = "pulumi-nodejs:dynamic/ipam:IpAllocation";

/** A `pulumi preview --json` document (PreviewDigest) of `steps` creates in one subnet, names hostile. */
function digest(subnetId: string, steps: number): string {
  const urn = (i: number) => `urn:pulumi:ci::bench::${ALLOCATION}::web\u001b[2J|*${i}*`;
  return JSON.stringify({
    config: { "ipam:databaseUrl": "[secret]" },
    steps: Array.from({ length: steps }, (_, i) => ({
      op: "create",
      urn: urn(i),
      newState: { urn: urn(i), custom: true, type: ALLOCATION, inputs: { subnetId, count: 2, __owner: `bench/ci/web${i}`, tags: "[secret]" } },
    })),
  });
}

/**
 * 13. `ipam preview-report` (the real CLI, a child process) of a preview with 5,000 IPAM steps vs 50
 * (500 vs 50 with --quick), terminal and markdown: the time ratio, and the 5,000-step report under 5 s
 * (issue 26). The subnet is a /16 holding nothing, so every step is predicted.
 */
export async function previewReportAtScale(context: BenchContext): Promise<ScenarioResult> {
  const large = context.quick ? 500 : 5_000;
  const small = 50;
  const ipam = await Ipam.open({ databaseUrl: context.url, schema: SCHEMA, maxConnections: 1 });
  const dir = await mkdtemp(join(tmpdir(), "ipam-bench-preview-"));
  try {
    const subnet = await ipam.createSubnet({ cidr: "10.200.0.0/16", description: "bench: preview-report" });
    const run = async (steps: number, format: string[]) => {
      const file = join(dir, `preview-${steps}.json`);
      await writeFile(file, digest(subnet.id, steps));
      return runCli(context.url, ["--schema", SCHEMA, "preview-report", file, ...format]);
    };
    context.log(`scenario 15: preview-report of ${small} and ${large} steps`);
    await run(small, []); // warm the file cache and the server's plans
    const smallRun = await run(small, []);
    const largeRun = await run(large, []);
    const largeMarkdown = await run(large, ["--markdown"]);
    const seconds = (r: { ms: number }) => round(r.ms / 1000, 2);
    return {
      id: "15-preview-report-at-scale",
      title: `ipam preview-report (child process) of ${small} vs ${large} steps`,
      figures: {
        smallSteps: small,
        largeSteps: large,
        smallSeconds: seconds(smallRun),
        largeSeconds: seconds(largeRun),
        largeMarkdownSeconds: seconds(largeMarkdown),
        largePeakRssMiB: round(largeRun.peakRssMiB, 1),
      },
      checks: [
        check(`preview-report of ${large} steps: seconds`, seconds(largeRun), "atMost", 5),
        check(`preview-report of ${large} steps, markdown: seconds`, seconds(largeMarkdown), "atMost", 5),
      ],
      reported: [{ name: `time ratio, ${large} vs ${small} steps`, value: round(ratio(largeRun.ms, smallRun.ms), 2) }],
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
    await ipam.close();
  }
}

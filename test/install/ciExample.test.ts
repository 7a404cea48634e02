import { execFile } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import yaml from "js-yaml";
import { afterAll, beforeAll, expect, it } from "vitest";

// examples/ci/pulumi-ipam.yml (docs/ci.md) is a GitHub Actions workflow, not a Pulumi project (it has no
// Pulumi.yaml, so the example-project tests do not pick it up). Its jobs are checked here, and its report
// step's shell is run with a stand-in `npx` to show how the exit code and the job summary behave.
const file = resolve(import.meta.dirname, "..", "..", "examples", "ci", "pulumi-ipam.yml");
type Step = { name?: string; run?: string; uses?: string; env?: Record<string, string> };
let workflow: { on: Record<string, unknown>; jobs: Record<string, { if: string; steps: Step[] }> };
let dir: string;

beforeAll(async () => {
  workflow = yaml.load(await readFile(file, "utf8")) as typeof workflow;
  dir = await mkdtemp(join(tmpdir(), "ipam-ci-"));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const runs = (job: string) => workflow.jobs[job]!.steps.map((s) => s.run ?? "").join("\n");

it("previews on pull requests, reports into the job summary, and runs up only on a push to main", () => {
  expect(Object.keys(workflow.on).sort()).toEqual(["pull_request", "push"]);
  expect(workflow.jobs.preview!.if).toBe("github.event_name == 'pull_request'");
  expect(workflow.jobs.up!.if).toBe("github.event_name == 'push' && github.ref == 'refs/heads/main'");
  expect(runs("preview")).toMatch(/pulumi preview --json .*> "\$RUNNER_TEMP\/preview\.json"/);
  expect(runs("preview")).toMatch(/npx ipam preview-report "\$RUNNER_TEMP\/preview\.json" --state "\$RUNNER_TEMP\/state\.json" --markdown >> "\$GITHUB_STEP_SUMMARY"/);
  expect(runs("preview")).not.toMatch(/^\s*pulumi up/m);
  expect(runs("up")).toMatch(/pulumi up --yes/);
  // The database URL comes from a secret, reaches the stack only as secret config, and is never echoed.
  for (const job of ["preview", "up"]) {
    expect(runs(job)).toMatch(/pulumi config set --secret ipam:databaseUrl "\$IPAM_DATABASE_URL"/);
    expect(runs(job)).not.toMatch(/echo[^\n]*IPAM_DATABASE_URL/);
    for (const step of workflow.jobs[job]!.steps) {
      for (const value of Object.values(step.env ?? {})) if (/DATABASE/.test(value)) expect(value).toBe("${{ secrets.IPAM_DATABASE_URL }}");
    }
  }
});

it("the report step passes the report's exit code on (3: up predicted to fail) and keeps the report in the summary", async () => {
  const script = workflow.jobs.preview!.steps.find((s) => s.name === "IP change report")!.run!;
  const bin = join(dir, "bin");
  await (await import("node:fs/promises")).mkdir(bin, { recursive: true });
  await writeFile(join(bin, "npx"), '#!/bin/sh\necho "### IP address changes (predicted) $*"\nexit "$FAKE_CODE"\n');
  await chmod(join(bin, "npx"), 0o755);
  for (const code of [0, 3, 2]) {
    const summary = join(dir, `summary-${code}.md`);
    const result = await new Promise<{ code: number; stdout: string }>((done) => {
      execFile("bash", ["-e", "-c", script], { env: { PATH: `${bin}:/usr/bin:/bin`, FAKE_CODE: String(code), RUNNER_TEMP: dir, GITHUB_STEP_SUMMARY: summary } }, (error, stdout) =>
        done({ code: error === null ? 0 : Number(error.code), stdout }),
      );
    });
    expect(result.code).toBe(code);
    expect(await readFile(summary, "utf8")).toContain(`### IP address changes (predicted) ipam preview-report ${dir}/preview.json --state ${dir}/state.json --markdown`);
    expect(result.stdout.includes("::error::pulumi up is predicted to fail")).toBe(code === 3);
  }
});

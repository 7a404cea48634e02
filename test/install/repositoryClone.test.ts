import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { chmod } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NPM_INSTALL_FLAGS, describeRun, repoRoot, runCommand, skipInstallTests, userEnvironment, userProject } from "../helpers/userInstall.js";

/**
 * The repository as someone clones it: into a directory only its owner may enter (root's home in a
 * container is 0700), where the two README commands must work; and as a git dependency, which
 * builds dist/ on install (`prepare`). Both start from this checkout's HEAD (what CI tests).
 */
let privateDir: string;
let clone: string;
let scratch: string;
let home: string;

describe.skipIf(skipInstallTests)("a clone of the repository", () => {
  beforeAll(async () => {
    privateDir = mkdtempSync(join(tmpdir(), "ipam-private-"));
    await chmod(privateDir, 0o700);
    scratch = mkdtempSync(join(tmpdir(), "ipam-clone-scratch-"));
    // A fresh home outside the private directory (the default one, /var/lib/pulumi-ipam as root, may hold a
    // user's data); as root the CLI opens it to the server's user itself (0711).
    home = mkdtempSync(join(tmpdir(), "ipam-clone-home-"));
    clone = join(privateDir, "pulumi-ipam");
    const cloned = await runCommand("git", ["clone", "--quiet", repoRoot, clone], tmpdir());
    expect(cloned.code, describeRun("git clone", cloned)).toBe(0);
  }, 120_000);
  afterAll(async () => {
    if (clone && existsSync(join(clone, "dist"))) {
      await runCommand(join(clone, "node_modules", ".bin", "node"), [join(clone, "dist/provider/cli/main.js"), "db", "stop"], clone, userEnvironment({ IPAM_HOME: home }));
    }
    for (const dir of [privateDir, scratch, home]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("under a 0700 directory: `npm ci && npm run demo` works (as root the server's own user cannot enter it)", async () => {
    const mode = statSync(privateDir).mode & 0o777;
    expect(mode).toBe(0o700);
    expect(statSync(privateDir).uid).toBe(userInfo().uid);
    const installed = await runCommand("npm", ["ci", ...NPM_INSTALL_FLAGS], clone);
    expect(installed.code, describeRun("npm ci", installed)).toBe(0);
    const env = userEnvironment({ IPAM_HOME: home });
    const demo = await runCommand("npm", ["run", "demo"], clone, env);
    expect(demo.code, describeRun("npm run demo", demo)).toBe(0);
    expect(demo.stdout).toContain("none held twice");
    expect(demo.stdout).toMatch(/map of 10\.42\.0\.0\/24 written to .*ipam-demo-map\.svg/);
    expect(readFileSync(join(clone, "ipam-demo-map.svg"), "utf8")).toMatch(/^<svg [\s\S]*<\/svg>\n$/);
    expect(demo.stderr).not.toMatch(/\n\s+at /); // no stack trace
  }, 600_000);

  it("a home the server's user cannot enter fails in one line naming the cause and the fix", async () => {
    // Meaningful for root only: any other user runs the server as itself and can enter its own directories.
    if (userInfo().uid !== 0) return;
    const env = userEnvironment({ IPAM_HOME: join(privateDir, "home") });
    const started = await runCommand(join(clone, "node_modules", ".bin", "node"), [join(clone, "dist/provider/cli/main.js"), "db", "start"], clone, env);
    expect(started.code).toBe(1);
    expect(started.stderr.trim().split("\n")).toEqual([
      `error: DATABASE_UNAVAILABLE: cannot reach the IPAM database: the local database runs as OS user pulumi-ipam, which cannot enter ${join(privateDir, "home")} (a directory above it is private): set IPAM_HOME to a directory it can reach, e.g. /var/lib/pulumi-ipam`,
    ]);
  }, 120_000);

  it("as a git dependency: `npm install git+file://…` builds dist/ (prepare) and the ipam bin runs", async () => {
    const project = join(scratch, "git-user");
    await userProject(project, `git+file://${clone}`);
    const installed = await runCommand("npm", ["install", ...NPM_INSTALL_FLAGS], project);
    expect(installed.code, describeRun("npm install git+file://", installed)).toBe(0);
    expect(existsSync(join(project, "node_modules", "pulumi-ipam", "dist", "sdk", "index.js"))).toBe(true);
    expect(existsSync(join(project, "node_modules", "pulumi-ipam", "test"))).toBe(false);
    const help = await runCommand("npx", ["--no-install", "ipam", "--help"], project);
    expect(help.code, describeRun("npx ipam --help", help)).toBe(0);
    expect(help.stdout).toMatch(/^Usage: ipam /);
  }, 600_000);
});

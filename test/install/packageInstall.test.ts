import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NPM_INSTALL_FLAGS, describeRun, packTarball, repoRoot, runCommand, shareNodeModules, skipInstallTests, userProject } from "../helpers/userInstall.js";

/**
 * The package as a user gets it: `npm pack` → install the tarball into a fresh project → the `ipam`
 * bin runs; then every example, copied out of the repository as a user would copy it, resolves its
 * own dependencies against that install and type-checks with its own tsconfig.
 */
const examples = ["quickstart", "ipv6", "child-subnets", "multi-stack/network", "multi-stack/app"];
type Manifest = { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
const manifestOf = (example: string) => JSON.parse(readFileSync(join(repoRoot, "examples", example, "package.json"), "utf8")) as Manifest;

let scratch: string;
let tarball: string;
let installed: string;

describe.skipIf(skipInstallTests)("installed from the npm pack tarball", () => {
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "ipam-install-"));
    tarball = await packTarball(scratch);
    // One install serves every example: the union of what their package.json files ask for.
    const wanted: Record<string, string> = {};
    for (const example of examples) {
      const manifest = manifestOf(example);
      for (const [name, range] of Object.entries({ ...manifest.dependencies, ...manifest.devDependencies })) {
        if (name === "pulumi-ipam") continue;
        expect(wanted[name] ?? range, `${example} asks for ${name}@${range}`).toBe(range);
        wanted[name] = range;
      }
    }
    installed = join(scratch, "user");
    await userProject(installed, `file:${tarball}`, wanted);
    const install = await runCommand("npm", ["install", ...NPM_INSTALL_FLAGS], installed);
    expect(install.code, describeRun("npm install <tarball>", install)).toBe(0);
  }, 600_000);
  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("ships the compiled SDK, provider, CLI and migrations, and nothing of the repo's tests or bench", () => {
    const files = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).split("\n");
    for (const file of ["package/dist/sdk/index.js", "package/dist/sdk/index.d.ts", "package/dist/provider/cli/main.js", "package/dist/provider/store/migrations/0001_initial.sql"]) {
      expect(files, file).toContain(file);
    }
    expect(files.filter((file) => /^package\/(test|bench|harness|examples|dist\/bench|dist\/harness)\//.test(file))).toEqual([]);
  });

  it("`npx ipam --help` runs the installed bin", async () => {
    const help = await runCommand("npx", ["--no-install", "ipam", "--help"], installed);
    expect(help.code, describeRun("npx ipam --help", help)).toBe(0);
    expect(help.stdout).toMatch(/^Usage: ipam /);
    expect(help.stdout).toContain("demo");
  });

  for (const example of examples) {
    it(`examples/${example}: its dependencies resolve to the installed package and its own tsc --noEmit passes`, async () => {
      const copy = join(scratch, "examples", example);
      cpSync(join(repoRoot, "examples", example), copy, { recursive: true, filter: (source) => !source.includes("node_modules") });
      await shareNodeModules(copy, installed);
      // npm ls fails when anything the example's package.json declares is missing or out of its range.
      const listed = await runCommand("npm", ["ls", "--offline"], copy);
      expect(listed.code, describeRun("npm ls", listed)).toBe(0);
      expect(listed.stdout).toContain("pulumi-ipam@");
      const tsc = await runCommand(join(copy, "node_modules", ".bin", "tsc"), ["--noEmit", "-p", "tsconfig.json"], copy);
      expect(tsc.code, describeRun("tsc --noEmit", tsc)).toBe(0);
    });
  }

  it("negative control: the same tsc refuses a program that misuses the installed package's types", async () => {
    const copy = join(scratch, "examples", "broken");
    cpSync(join(repoRoot, "examples", "quickstart"), copy, { recursive: true, filter: (source) => !source.includes("node_modules") });
    await shareNodeModules(copy, installed);
    writeFileSync(join(copy, "index.ts"), `import { Subnet } from "pulumi-ipam";\nnew Subnet("lan", { cidr: 10 });\n`);
    const tsc = await runCommand(join(copy, "node_modules", ".bin", "tsc"), ["--noEmit", "--pretty", "false", "-p", "tsconfig.json"], copy);
    expect(tsc.code).not.toBe(0);
    expect(tsc.stdout).toMatch(/index\.ts.*error TS2322/);
  });
});

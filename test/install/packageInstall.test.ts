import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStack, type Stack } from "../../harness/engine/index.js";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.js";
import { NPM_INSTALL_FLAGS, describeRun, packTarball, repoRoot, runCommand, shareNodeModules, skipInstallTests, userProject } from "../helpers/userInstall.js";

/**
 * The package as a user gets it: `npm pack` → install the tarball into a fresh project → the `ipam`
 * bin runs; then every example, copied out of the repository as a user would copy it, resolves its
 * own dependencies against that install, type-checks with its own tsconfig, and deploys and destroys
 * through the modelled engine (harness/engine) with that install's pulumi-ipam and @pulumi/pulumi.
 */
const examples = ["quickstart", "ipv6", "child-subnets", "multi-stack/network", "multi-stack/app"];
type Manifest = { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
const manifestOf = (example: string) => JSON.parse(readFileSync(join(repoRoot, "examples", example, "package.json"), "utf8")) as Manifest;

let scratch: string;
let tarball: string;
let installed: string;
let db: TestDatabase;

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
    db = await createTestDatabase("installed");
  }, 600_000);
  afterAll(async () => {
    await db?.drop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("ships the compiled SDK, provider, CLI and migrations, and nothing of the repo's tests or bench", () => {
    const files = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).split("\n");
    for (const file of ["package/dist/sdk/index.js", "package/dist/sdk/index.d.ts", "package/dist/provider/cli/main.js", "package/dist/provider/store/schema/migrations/0001_initial.sql"]) {
      expect(files, file).toContain(file);
    }
    expect(files.filter((file) => /^package\/(test|bench|harness|examples|dist\/bench|dist\/harness)\//.test(file))).toEqual([]);
  });

  it("@pulumi/pulumi is a peer dependency: the install holds one copy of it, the program's own", async () => {
    const manifest = JSON.parse(execFileSync("tar", ["-xzOf", tarball, "package/package.json"], { encoding: "utf8" })) as Manifest & { peerDependencies?: Record<string, string> };
    expect(manifest.peerDependencies?.["@pulumi/pulumi"]).toMatch(/^\^3\./);
    expect(manifest.dependencies?.["@pulumi/pulumi"]).toBeUndefined();
    const listed = await runCommand("npm", ["ls", "@pulumi/pulumi", "--all", "--parseable", "--offline"], installed);
    expect(listed.code, describeRun("npm ls @pulumi/pulumi", listed)).toBe(0);
    expect([...new Set(listed.stdout.trim().split("\n").filter((line) => line.endsWith(join("@pulumi", "pulumi"))))]).toEqual([join(installed, "node_modules", "@pulumi", "pulumi")]);
    expect(existsSync(join(installed, "node_modules", "pulumi-ipam", "node_modules", "@pulumi", "pulumi"))).toBe(false);
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

  it("every example deploys and destroys through the modelled engine from the installed package", async () => {
    const backendDir = join(scratch, "backend");
    const stacks: Stack[] = [];
    const open = async (example: string, config: Record<string, string> = {}) => {
      const stack = await openStack({
        programDir: join(repoRoot, "examples", example),
        stack: "dev",
        backendDir,
        config: { "ipam:databaseUrl": db.url, ...config },
        provideSdk: (workDir) => shareNodeModules(workDir, installed),
      });
      stacks.push(stack);
      return stack;
    };
    try {
      // The network stack first: the app stack allocates from its subnet through a StackReference.
      const order = ["quickstart", "ipv6", "child-subnets", "multi-stack/network", "multi-stack/app"];
      const opened: Stack[] = [];
      for (const example of order) {
        const stack = await open(example, example === "multi-stack/app" ? { "ipam-app:networkStack": "organization/ipam-network/dev" } : {});
        const steps = await stack.up();
        expect(steps.filter((step) => step.op === "create").length, example).toBeGreaterThan(1);
        expect(Object.keys(await stack.outputs()).length, example).toBeGreaterThan(0);
        // Installed under node_modules, state names each kind's module, not the loader's code (host/lazyProvider.cjs).
        const ipam = (await stack.state()).filter((r) => /^pulumi-nodejs:dynamic\/ipam:(Subnet|IpAllocation)$/.test(r.type) && r.id !== undefined);
        expect(ipam.length, example).toBeGreaterThan(0);
        for (const resource of ipam) {
          for (const text of [resource.inputs.__provider, resource.outputs.__provider]) expect(String(text), resource.urn).toMatch(/^const provider = require\("pulumi-ipam\/host\/(subnet|allocation)\.cjs"\);$/m);
        }
        opened.push(stack);
      }
      expect(await stack("quickstart", opened, order).outputs()).toMatchObject({ dbAddress: "10.20.0.100", gateway: "10.20.0.1", webAddresses: ["10.20.0.10", "10.20.0.11"] });
      expect(String((await stack("multi-stack/app", opened, order).outputs()).address)).toMatch(/^10\.30\./);
      expect(await rowCounts()).not.toEqual({ subnets: 0, allocations: 0 });
      for (const done of [...opened].reverse()) {
        await done.destroy();
        expect(await done.state()).toEqual([]);
      }
      expect(await rowCounts()).toEqual({ subnets: 0, allocations: 0 });
    } finally {
      for (const opened of stacks) await opened.close();
    }
  }, 600_000);
});

function stack(example: string, opened: Stack[], order: string[]): Stack {
  return opened[order.indexOf(example)]!;
}

async function rowCounts(): Promise<{ subnets: number; allocations: number }> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const { rows } = await client.query("SELECT (SELECT count(*) FROM ipam.subnet)::int AS subnets, (SELECT count(*) FROM ipam.allocation)::int AS allocations");
    return rows[0] as { subnets: number; allocations: number };
  } finally {
    await client.end();
  }
}

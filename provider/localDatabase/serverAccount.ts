import { execFile } from "node:child_process";
import { userInfo } from "node:os";
import { promisify } from "node:util";
import { DatabaseUnavailableError } from "../core/errors.js";

const run = promisify(execFile);
/**
 * The project's own system account. Never the host's `postgres`: a system PostgreSQL's superuser
 * runs as that account and could read our cluster and its server's memory and environment (issue 22 item 2).
 */
export const SERVER_USER = "pulumi-ipam";

/**
 * The OS account the embedded PostgreSQL runs as: null for the current user, or, for root (whom
 * PostgreSQL refuses to run as), the project's `pulumi-ipam` system user.
 */
export type ServerAccount = { readonly name: string; readonly uid: number; readonly gid: number } | null;

/**
 * The account the server runs as. As root, the `pulumi-ipam` system user (its own group, no home,
 * no login shell) is created when missing.
 * @throws DatabaseUnavailableError when root has no such user and it cannot be created
 */
export async function serverAccount(): Promise<ServerAccount> {
  if (userInfo().uid !== 0) return null;
  const existing = await lookUp();
  if (existing !== null) return existing;
  try {
    await run("useradd", ["-r", "-U", "-M", "-d", "/nonexistent", "-s", "/usr/sbin/nologin", "-c", "pulumi-ipam embedded PostgreSQL", SERVER_USER], { timeout: 30_000 });
  } catch (error) {
    // Another process may have created it meanwhile.
    const created = await lookUp();
    if (created !== null) return created;
    throw new DatabaseUnavailableError(
      `PostgreSQL does not run as root and the OS user ${SERVER_USER} could not be created (${firstLine(error)}): create it (useradd -r ${SERVER_USER}) or run as another user`,
    );
  }
  const created = await lookUp();
  if (created === null) throw new DatabaseUnavailableError(`the OS user ${SERVER_USER} was created but cannot be looked up: check \`id ${SERVER_USER}\``);
  return created;
}

async function lookUp(): Promise<ServerAccount> {
  try {
    const uid = Number((await run("id", ["-u", SERVER_USER], { timeout: 10_000 })).stdout.trim());
    const gid = Number((await run("id", ["-g", SERVER_USER], { timeout: 10_000 })).stdout.trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { name: SERVER_USER, uid, gid } : null;
  } catch {
    return null;
  }
}

/** Options for child_process that run a program as the account (nothing for the current user). */
export function runAs(account: ServerAccount): { uid?: number; gid?: number } {
  return account === null ? {} : { uid: account.uid, gid: account.gid };
}

/**
 * Whether the account can enter (search) the directory: every directory above it must let it
 * through too, which `test -x` checks as that user (access(2) walks the whole path).
 */
export async function canEnter(account: ServerAccount, directory: string): Promise<boolean> {
  if (account === null) return true;
  try {
    await run("test", ["-x", directory], { ...runAs(account), timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

export function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n").find((line) => line.trim() !== "")?.trim() ?? "unknown error";
}

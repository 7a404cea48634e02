import { cpSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { HOST_SCRIPT } from "../../harness/providerHost.js";

const root = resolve(import.meta.dirname, "..", "..");

/** A Pulumi program's directory with pulumi-ipam installed in its node_modules, as a user has it. */
export interface Checkout {
  readonly dir: string;
  /** The host script under this checkout's node_modules (how the engine's nodejs plugin finds it). */
  readonly hostScript: string;
  /** Where the package's compiled files live in this checkout. */
  readonly packageDir: string;
  remove(): void;
}

/**
 * Put pulumi-ipam into `dir`/node_modules as `npm install` does: the built package COPIED (its
 * package.json and dist/), every other dependency linked from this repository's node_modules (they
 * are not under test). Needs `npm run build` first. Usable as the engine's `provideSdk`.
 * @returns the package's directory
 */
export async function installPackageCopy(dir: string): Promise<string> {
  const modules = join(dir, "node_modules");
  mkdirSync(modules, { recursive: true });
  for (const entry of readdirSync(join(root, "node_modules"))) {
    if (entry === "pulumi-ipam" || entry.startsWith(".")) continue;
    symlinkSync(join(root, "node_modules", entry), join(modules, entry), "dir");
  }
  const packageDir = join(modules, "pulumi-ipam");
  mkdirSync(packageDir);
  cpSync(join(root, "package.json"), join(packageDir, "package.json"));
  cpSync(join(root, "dist"), join(packageDir, "dist"), { recursive: true });
  return packageDir;
}

/** A program directory at `dir` with the package installed as a copy (see installPackageCopy). */
export async function makeCheckout(dir: string): Promise<Checkout> {
  const packageDir = await installPackageCopy(dir);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "program", private: true, type: "module", dependencies: { "pulumi-ipam": "*" } }));
  return { dir, hostScript: join(dir, "node_modules", HOST_SCRIPT), packageDir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

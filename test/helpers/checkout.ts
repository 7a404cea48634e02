import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { installPackage } from "../../harness/engine/program.js";
import { HOST_SCRIPT } from "../../harness/providerHost.js";

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
 * A program directory named `name` in a fresh temporary directory, with the package installed as a
 * copy (harness/engine/program.ts, installPackage); remove() removes the temporary directory too.
 */
export async function makeCheckout(name: string): Promise<Checkout> {
  const parent = mkdtempSync(join(tmpdir(), "ipam-checkout-"));
  const dir = join(parent, name);
  const packageDir = await installPackage(dir);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "program", private: true, type: "module", dependencies: { "pulumi-ipam": "*" } }));
  return { dir, hostScript: join(dir, "node_modules", HOST_SCRIPT), packageDir, remove: () => rmSync(parent, { recursive: true, force: true }) };
}

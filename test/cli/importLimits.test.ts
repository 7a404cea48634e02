import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cliRunner.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ipam-import-limits-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A sparse file of `bytes` zero bytes: no disk used, but its size is what the import sees. */
async function sparseFile(name: string, bytes: number): Promise<string> {
  const path = join(dir, name);
  const handle = await open(path, "w", 0o600);
  await handle.truncate(bytes);
  await handle.close();
  return path;
}

describe("ipam import: input size cap (issue 22 item 6)", () => {
  it("refuses a file over 512 MiB before reading it, naming the file and the limit", async () => {
    const path = await sparseFile("huge.json", 600 * 2 ** 20);
    // No database is named: the file is refused before any connection (or validation) is tried.
    const result = await runCli(["import", "--check", path], {});
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("INVALID_INPUT");
    expect(result.stderr).toContain(`file: ${path} is larger than 512 MiB`);
  });
});

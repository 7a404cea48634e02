import { mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidInputError } from "../../provider/core/errors.js";
import { streamPrivateFile } from "../../provider/cli/privateFile.js";

// `ipam export --out` writes as it reads: the content goes to a private file beside the target,
// renamed over it only once complete.
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ipam-stream-file-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("streamPrivateFile", () => {
  it("replaces the file with everything written, mode 0600, and returns what produce returns", async () => {
    const path = join(dir, "done.json");
    await writeFile(path, "old", { mode: 0o644 });
    const result = await streamPrivateFile(path, "out", async (write) => {
      await write("one ");
      await write("two");
      return 42;
    });
    expect(result).toBe(42);
    expect(await readFile(path, "utf8")).toBe("one two");
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(["done.json"]);
  });

  it("leaves the previous file untouched and no partial file when produce fails part-way", async () => {
    const path = join(dir, "kept.json");
    await writeFile(path, "previous backup");
    const failure = new Error("connection lost");
    await expect(
      streamPrivateFile(path, "out", async (write) => {
        await write("half of it");
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await readFile(path, "utf8")).toBe("previous backup");
    expect((await readdir(dir)).filter((name) => name.startsWith("kept.json"))).toEqual(["kept.json"]);
  });

  it("leaves no file at all when there was none and produce fails", async () => {
    const path = join(dir, "new.json");
    await expect(
      streamPrivateFile(path, "out", async (write) => {
        await write("half of it");
        throw new Error("connection lost");
      }),
    ).rejects.toThrow("connection lost");
    expect((await readdir(dir)).filter((name) => name.startsWith("new.json"))).toEqual([]);
  });

  it("refuses a symbolic link before producing anything", async () => {
    const path = join(dir, "link.json");
    await symlink(join(dir, "elsewhere.json"), path);
    let produced = false;
    await expect(streamPrivateFile(path, "out", async () => void (produced = true))).rejects.toBeInstanceOf(InvalidInputError);
    expect(produced).toBe(false);
  });
});

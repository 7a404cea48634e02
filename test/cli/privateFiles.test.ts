import { execFileSync } from "node:child_process";
import { chmod, chown, link, mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonError, runCli } from "../helpers/cliRunner.js";
import { useTestIpam } from "../helpers/openTestIpam.js";

// Issue 13 item 13: `export --out` and `map --out` wrote 0644 files and followed a symbolic link
// at the target, so anyone able to plant a link (a shared directory) chose what got overwritten.
const context = useTestIpam("privatefiles");
let dir: string;
let subnetId: string;
const ipam = (args: string[]) => runCli(args, { IPAM_DATABASE_URL: context.db.url });

const writers: [string, (out: string) => string[]][] = [
  ["export --out", (out) => ["export", "--out", out]],
  ["map --out", (out) => ["map", subnetId, "--out", out, "--json"]],
];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ipam-private-"));
  await chmod(dir, 0o1777); // like /tmp: anyone may plant a name here
  const subnet = await context.ipam.createSubnet({ cidr: "10.77.0.0/24", namespace: "files" });
  subnetId = subnet.id;
  await context.ipam.allocate({ subnetId, owner: "secret-owner", count: 3 });
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

async function refused(args: string[], reason: RegExp): Promise<void> {
  const result = await ipam(args);
  expect(result.code, result.stderr).toBe(1);
  if (args.includes("--json")) {
    expect(jsonError(result)).toMatchObject({ code: "INVALID_INPUT", issues: [{ field: "out", reason: expect.stringMatching(reason) }] });
  } else {
    expect(result.stderr).toMatch(/^error: INVALID_INPUT: out: /);
    expect(result.stderr).toMatch(reason);
  }
}

describe.each(writers)("ipam %s", (name, argsFor) => {
  const file = (label: string) => join(dir, `${name.split(" ")[0]}-${label}`);

  it("writes a new file readable by its owner only (0600)", async () => {
    const out = file("new");
    const result = await ipam(argsFor(out));
    expect(result.code, result.stderr).toBe(0);
    expect(await modeOf(out)).toBe(0o600);
    expect(await readFile(out, "utf8")).toMatch(/10\.77\.0\./);
  });

  it("replacing an existing world-readable file of the user leaves it 0600", async () => {
    const out = file("existing");
    await writeFile(out, "old content that is much longer than nothing ".repeat(2_000));
    await chmod(out, 0o644);
    expect((await ipam(argsFor(out))).code).toBe(0);
    expect(await modeOf(out)).toBe(0o600);
    expect(await readFile(out, "utf8")).not.toContain("old content");
  });

  it("refuses a symbolic link at the target instead of writing through it; the link's target is untouched", async () => {
    const victim = file("victim");
    await writeFile(victim, "precious\n");
    const out = file("link");
    await symlink(victim, out);
    await refused(argsFor(out), /symbolic link/);
    expect(await readFile(victim, "utf8")).toBe("precious\n");

    // A dangling link would otherwise create its target wherever it points.
    const dangling = file("dangling");
    await symlink(file("created-through-link"), dangling);
    await refused(argsFor(dangling), /symbolic link/);
    await expect(stat(file("created-through-link"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("refuses a hard-linked file (another name could be readable) and a FIFO (would block)", async () => {
    const original = file("original");
    await writeFile(original, "other name\n");
    const out = file("hardlink");
    await link(original, out);
    await refused(argsFor(out), /hard link/);
    expect(await readFile(original, "utf8")).toBe("other name\n");

    const fifo = file("fifo");
    execFileSync("mkfifo", [fifo]);
    await refused(argsFor(fifo), /not a regular file/);
  });

  it.runIf(process.getuid?.() === 0)("refuses a file planted by another user, leaving its content", async () => {
    const out = file("planted");
    await writeFile(out, "planted\n");
    await chmod(out, 0o666);
    await chown(out, 65534, 65534); // nobody
    await refused(argsFor(out), /another user|EACCES/); // EACCES where fs.protected_regular stops even root
    expect(await readFile(out, "utf8")).toBe("planted\n");
  });
});

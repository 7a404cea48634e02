import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedServer } from "../../provider/localDatabase/embeddedServer.js";
import { runCli } from "../helpers/cliRunner.js";
import { isRoot } from "../helpers/osAccount.js";

// Issue 22 item 2: as root, the embedded server ran as the host's existing `postgres` account (the
// system PostgreSQL's superuser could read it) and inherited root's whole environment: sentinel
// AWS_SECRET_ACCESS_KEY / PULUMI_ACCESS_TOKEN appeared in the postmaster's /proc/PID/environ. Both
// the local database (`ipam db start`) and the embedded server the tests use are checked.
const SENTINELS = { AWS_SECRET_ACCESS_KEY: `aws-sentinel-${randomBytes(6).toString("hex")}`, PULUMI_ACCESS_TOKEN: `pul-sentinel-${randomBytes(6).toString("hex")}` };
/** The account the project creates for its servers (never `postgres`, which the host's PostgreSQL owns). */
const PROJECT_ACCOUNT = "pulumi-ipam";

async function postmaster(dataDir: string): Promise<{ user: string; environ: string }> {
  const pid = Number((await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n")[0]);
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const uid = Number(/^Uid:\s+(\d+)/m.exec(status)![1]);
  const user = execFileSync("id", ["-nu", String(uid)], { encoding: "utf8" }).trim();
  return { user, environ: (await readFile(`/proc/${pid}/environ`)).toString("utf8") };
}

const describeAsRoot = isRoot() ? describe : describe.skip;

describeAsRoot("as root, the embedded server runs as the project's own account with a minimal environment", () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "ipam-account-"));
    await chmod(root, 0o755);
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("`ipam db start`: the postmaster runs as pulumi-ipam and holds none of root's secrets", async () => {
    const env = { IPAM_HOME: join(root, "home"), CI: "true", ...SENTINELS };
    try {
      const started = await runCli(["db", "start"], env);
      expect(started.code, started.stderr).toBe(0);
      const server = await postmaster(join(env.IPAM_HOME, "postgres"));
      expect(server.user).toBe(PROJECT_ACCOUNT);
      for (const [name, value] of Object.entries(SENTINELS)) {
        expect(server.environ, `${name} reached the postmaster`).not.toContain(value);
        expect(server.environ).not.toContain(`${name}=`);
      }
    } finally {
      await runCli(["db", "stop"], env);
    }
  });

  it("the embedded server (tests, zero-config): the same account, none of the starting process's secrets", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, SENTINELS);
    await mkdir(join(root, "embedded"), { mode: 0o755 }); // as globalSetup's parent: the server's account must enter it
    const dataDir = join(root, "embedded", "data");
    let server: Awaited<ReturnType<typeof startEmbeddedServer>> | undefined;
    try {
      server = await startEmbeddedServer({ dataDir, password: randomBytes(12).toString("hex"), persistent: false, initialise: true });
      for (const name of Object.keys(SENTINELS)) delete process.env[name];
      const running = await postmaster(dataDir);
      expect(running.user).toBe(PROJECT_ACCOUNT);
      for (const value of Object.values(SENTINELS)) expect(running.environ).not.toContain(value);
    } finally {
      Object.assign(process.env, saved);
      for (const name of Object.keys(SENTINELS)) if (!(name in saved)) delete process.env[name];
      await server?.stop();
    }
  });
});

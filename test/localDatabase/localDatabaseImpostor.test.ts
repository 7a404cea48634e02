import type { ChildProcess } from "node:child_process";
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonOf, runCli } from "../helpers/cliRunner.js";
import { createOsAccount, isRoot, type OsAccount } from "../helpers/osAccount.js";

// Issue 22 item 1: the CLI reached the local database over loopback TCP on the port in local.json
// and trusted whatever answered there; node-postgres sends the password in cleartext when a server
// asks for it. Another local account bound the port after `ipam db stop`, and the victim's next
// `ipam db start` said "running" while handing it the superuser's password. Here a second OS account
// answers on that port (and tries to answer where the local database's socket lives), as a server
// asking for a cleartext password would.

/** A fake PostgreSQL: asks for a cleartext password, accepts it, reports every byte it was sent. */
const FAKE_SERVER = `
const net = require("net");
const [port, socketPath] = process.argv.slice(1);
const say = (event) => process.stdout.write(JSON.stringify(event) + "\\n");
const serve = (server, where) => {
  server.on("connection", (socket) => {
    socket.on("data", (data) => {
      say({ event: "data", where, text: data.toString("latin1") });
      if (data.length === 8 && data.readInt32BE(4) === 80877103) return socket.write("N");
      if (data[0] === 0x70) return socket.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0, 0x5a, 0, 0, 0, 5, 0x49]));
      if (data.length >= 8 && data.readInt32BE(4) === 196608) return socket.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3]));
    });
    socket.on("error", () => {});
  });
};
const tcp = net.createServer();
serve(tcp, "tcp");
tcp.on("error", (error) => say({ event: "tcp", error: error.code }));
tcp.listen(Number(port), "127.0.0.1", () => {
  say({ event: "tcp", listening: true });
  const unix = net.createServer();
  serve(unix, "unix");
  unix.on("error", (error) => say({ event: "unix", error: error.code }));
  unix.listen(socketPath, () => say({ event: "unix", listening: true }));
});
`;

interface FakeEvent {
  readonly event: string;
  readonly where?: string;
  readonly text?: string;
  readonly listening?: boolean;
  readonly error?: string;
}

const describeAsRoot = isRoot() ? describe : describe.skip;

describeAsRoot("the local database answers only its owner: an impostor on its port gets nothing", () => {
  let attacker: OsAccount;
  let root: string;
  let env: Record<string, string>;
  let fake: ChildProcess | undefined;

  beforeAll(async () => {
    attacker = await createOsAccount("impostor");
    root = await mkdtemp(join(tmpdir(), "ipam-impostor-"));
    await chmod(root, 0o755);
    env = { IPAM_HOME: join(root, "home"), CI: "true" };
  }, 60_000);
  afterAll(async () => {
    // The account can only be removed once its process is gone.
    if (fake !== undefined && fake.exitCode === null && fake.signalCode === null) {
      const gone = new Promise((resolve) => fake!.once("exit", resolve));
      fake.kill("SIGKILL");
      await gone;
    }
    if (env) await runCli(["db", "stop"], env);
    await attacker?.remove();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("after `ipam db stop`, a second account answering on the recorded port is never sent the password, and start runs the real server", async () => {
    const first = await runCli(["db", "start", "--json"], env);
    expect(first.code, first.stderr).toBe(0);
    const state = JSON.parse(await readFile(join(env.IPAM_HOME!, "local.json"), "utf8")) as { port: number; password: string };
    expect((await runCli(["db", "stop"], env)).code).toBe(0);

    // The attacker learns the port (from /proc/net/tcp in the review; here it is handed over) and binds it.
    fake = attacker.spawnNode(FAKE_SERVER, [String(state.port), join(env.IPAM_HOME!, "postgres", `.s.PGSQL.${state.port}`)]);
    const events: FakeEvent[] = [];
    let pending = "";
    fake.stdout!.on("data", (chunk: Buffer) => {
      pending += chunk.toString("utf8");
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) if (line.trim() !== "") events.push(JSON.parse(line) as FakeEvent);
    });
    for (let i = 0; i < 6_000 && !events.some((e) => e.event === "unix"); i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(events.find((e) => e.event === "tcp"), "the impostor could not bind the port").toMatchObject({ listening: true });
    // Where the local database really listens, another account cannot even create a socket.
    expect(events.find((e) => e.event === "unix")).toMatchObject({ error: "EACCES" });

    const restarted = await runCli(["db", "start", "--json"], env);
    expect(restarted.code, restarted.stderr).toBe(0);
    expect(jsonOf(restarted)).toMatchObject({ running: true });
    const received = events.filter((e) => e.event === "data");
    expect(received.some((e) => e.text!.includes(state.password)), "the impostor received the superuser's password").toBe(false);
    expect(received.map((e) => e.where), "the impostor was contacted at all").toEqual([]);
    // The URL it hands out reaches the real server (the impostor cannot run a query).
    const url = (await runCli(["db", "url"], env)).stdout.trim();
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000, query_timeout: 10_000 });
    await client.connect();
    try {
      expect((await client.query<{ dir: string }>("SELECT current_setting('data_directory') AS dir")).rows[0]!.dir).toBe(join(env.IPAM_HOME!, "postgres"));
    } finally {
      await client.end();
    }
  });
});

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { displayText } from "../../provider/core/displayText.js";
import { IpamError } from "../../provider/core/errors.js";
import { runCli, type CliResult } from "../helpers/cliRunner.js";
import { useTestIpam } from "../helpers/openTestIpam.js";

// Issue 13 item 6: a stored owner with escape sequences reached the terminal raw inside
// SUBNET_IN_USE and IDEMPOTENCY_MISMATCH messages and CLI tables. Every error message and every
// CLI line now shows control, C1 and bidirectional characters as visible \uXXXX.
const source = useTestIpam("escapes");

/** Clear screen, retitle the window, C1 CSI, a right-to-left override and isolate, CR/LF, BEL, DEL. */
const HOSTILE = "ops\u001b[2J\u001b]0;pwned\u0007\u009b31m\u202eevil\u2066x\u2069\u061c\u200f\r\nfake line\u007f";
/** Raw characters no output may contain (a newline only as the line break between lines). */
const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

let subnetId: string;
let allocationId: string;

beforeAll(async () => {
  const subnet = await source.ipam.createSubnet({ cidr: "10.66.0.0/24", namespace: "esc", description: HOSTILE, tags: { [HOSTILE]: HOSTILE } });
  subnetId = subnet.id;
  const { allocation } = await source.ipam.allocate({ subnetId, owner: HOSTILE, idempotencyKey: HOSTILE, description: HOSTILE, tags: { team: HOSTILE } });
  allocationId = allocation.id;
  await source.ipam.updateSubnet(subnetId, { description: `${HOSTILE} (updated)` });
});

function expectSafe(text: string): void {
  const found = UNSAFE.exec(text);
  expect(found, found === null ? "" : `raw U+${found[0].charCodeAt(0).toString(16).padStart(4, "0")} in:\n${JSON.stringify(text)}`).toBeNull();
}

async function failure(run: () => Promise<unknown>): Promise<IpamError> {
  const error = await run().then(
    (value) => new Error(`accepted: ${JSON.stringify(value)}`),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(IpamError);
  return error as IpamError;
}

describe("error messages show stored text escaped", () => {
  it("SUBNET_IN_USE names the hostile owner escaped", async () => {
    const error = await failure(() => source.ipam.deleteSubnet(subnetId));
    expect(error.code).toBe("SUBNET_IN_USE");
    expectSafe(error.message);
    expect(error.message).toContain(displayText(HOSTILE));
  });

  it("IDEMPOTENCY_MISMATCH quotes the hostile key escaped", async () => {
    const error = await failure(() => source.ipam.allocate({ subnetId, owner: HOSTILE, idempotencyKey: HOSTILE, address: "10.66.0.200" }));
    expect(error.code).toBe("IDEMPOTENCY_MISMATCH");
    expectSafe(error.message);
    expect(error.message).toContain("\\u001b[2J");
  });

  it("INVALID_INPUT naming a hostile tag key escapes it in the message and in issues", async () => {
    const error = await failure(() => source.ipam.allocate({ subnetId, owner: "o", tags: { [HOSTILE]: "x".repeat(10_000) } }));
    expect(error.code).toBe("INVALID_INPUT");
    expectSafe(error.message);
    expectSafe(JSON.stringify((error as IpamError & { issues: unknown }).issues).replace(/\\u[0-9a-f]{4}/g, ""));
  });
});

describe("every CLI command prints stored text escaped (tables and JSON)", () => {
  const cli = (args: string[]) => runCli(args, { IPAM_DATABASE_URL: source.db.url });
  const reads: string[][] = [
    ["subnet", "list"],
    ["subnet", "show", "SUBNET"],
    ["usage"],
    ["usage", "SUBNET"],
    ["history"],
    ["history", "--owner", HOSTILE],
    ["history", "--subnet", "SUBNET"],
    ["export"],
  ];
  const withIds = (args: string[]) => args.map((arg) => (arg === "SUBNET" ? subnetId : arg));

  function expectOutputSafe(result: CliResult): void {
    expectSafe(result.stdout);
    expectSafe(result.stderr);
  }

  it.each(reads.map((args) => [args.join(" ").replace(HOSTILE, "HOSTILE"), args]))("ipam %s", async (_name, args) => {
    const table = await cli(withIds(args as string[]));
    expect(table.code, table.stderr).toBe(0);
    expectOutputSafe(table);
    expect(table.stdout).toContain("\\u001b[2J");
    if ((args as string[])[0] === "export") return;
    const json = await cli([...withIds(args as string[]), "--json"]);
    expect(json.code, json.stderr).toBe(0);
    expectOutputSafe(json);
    // Escaped JSON is still JSON holding the exact stored value.
    expect(JSON.stringify(JSON.parse(json.stdout))).toContain(JSON.stringify(HOSTILE).slice(1, -1));
  });

  it("ipam map prints nothing raw (text and JSON)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ipam-escapes-"));
    try {
      for (const json of [[], ["--json"]]) {
        const result = await cli(["map", subnetId, "--out", join(dir, `map${json.length}.svg`), ...json]);
        expect(result.code, result.stderr).toBe(0);
        expectOutputSafe(result);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("the export parses back to the exact stored text", async () => {
    const result = await cli(["export"]);
    const snapshot = JSON.parse(result.stdout);
    expect(snapshot.allocations.map((a: { owner: string }) => a.owner)).toEqual([HOSTILE]);
  });

  it("alloc, resize and failures (SUBNET_IN_USE, IDEMPOTENCY_MISMATCH) print nothing raw, in text and JSON", async () => {
    for (const json of [[], ["--json"]]) {
      const resized = await cli(["resize", allocationId, "--count", "1", ...json]);
      expect(resized.code, resized.stderr).toBe(0);
      expectOutputSafe(resized);
      const replay = await cli(["alloc", subnetId, "--owner", HOSTILE, "--key", HOSTILE, ...json]);
      expect(replay.code, replay.stderr).toBe(0);
      expectOutputSafe(replay);
      const inUse = await cli(["subnet", "delete", subnetId, ...json]);
      expect(inUse.code).toBe(1);
      expect(inUse.stderr).toContain("SUBNET_IN_USE");
      expectOutputSafe(inUse);
      const mismatch = await cli(["alloc", subnetId, "--owner", HOSTILE, "--key", HOSTILE, "--address", "10.66.0.201", ...json]);
      expect(mismatch.code).toBe(1);
      expect(mismatch.stderr).toContain("IDEMPOTENCY_MISMATCH");
      expectOutputSafe(mismatch);
    }
  });
});

import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { openStack, repoRoot, type Stack, type Step } from "../../harness/engine/index.js";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.js";

let db: TestDatabase;
let stack: Stack;

const ops = (steps: Step[]) => Object.fromEntries(steps.map((s) => [s.name, s.op]));

beforeAll(async () => {
  db = await createTestDatabase("engbasics");
  stack = await openStack({
    programDir: join(repoRoot, "examples", "quickstart"),
    stack: "dev",
    backendDir: await mkdtemp(join(tmpdir(), "ipam-backend-")),
    config: { "ipam:databaseUrl": db.url },
  });
});
afterAll(async () => {
  await stack?.close();
  await db?.drop();
});

it("runs the quickstart program: preview creates, up records outputs, destroy empties the database", async () => {
  expect(ops(await stack.preview())).toEqual({ "ipam-quickstart-dev": "create", lan: "create", web: "create", db: "create" });
  expect(await stack.state()).toEqual([]); // a preview writes nothing

  expect(ops(await stack.up())).toEqual({ "ipam-quickstart-dev": "create", lan: "create", web: "create", db: "create" });
  const outputs = await stack.outputs();
  expect(outputs).toMatchObject({ dbAddress: "10.20.0.100", gateway: "10.20.0.1", webAddresses: ["10.20.0.10", "10.20.0.11"] });
  expect((await stack.state()).map((r) => r.type)).toContain("pulumi-nodejs:dynamic/ipam:Subnet");

  await stack.destroy();
  expect(await stack.state()).toEqual([]);
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const { rows } = await client.query("SELECT (SELECT count(*) FROM ipam.subnet)::int AS subnets, (SELECT count(*) FROM ipam.allocation)::int AS allocations");
    expect(rows[0]).toEqual({ subnets: 0, allocations: 0 });
  } finally {
    await client.end();
  }
});

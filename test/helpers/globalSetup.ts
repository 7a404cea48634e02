import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { chmod } from "node:fs/promises";
import type { TestProject } from "vitest/node";
import { startEmbeddedServer } from "../../provider/localDatabase/embeddedServer.js";

declare module "vitest" {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
  }
}

/**
 * One PostgreSQL for the whole run: DATABASE_URL when set, otherwise an embedded server started
 * here and removed afterwards. Each test file then creates its own database on it.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const given = process.env.DATABASE_URL;
  if (given !== undefined && given !== "") {
    project.provide("adminDatabaseUrl", given);
    return async () => undefined;
  }
  const parent = await mkdtemp(join(tmpdir(), "ipam-test-pg-"));
  await chmod(parent, 0o755);
  const server = await startEmbeddedServer({
    dataDir: join(parent, "data"),
    password: randomBytes(12).toString("hex"),
    persistent: false,
    initialise: true,
  });
  project.provide("adminDatabaseUrl", server.url);
  return async () => {
    await server.stop();
    await rm(parent, { recursive: true, force: true });
  };
}

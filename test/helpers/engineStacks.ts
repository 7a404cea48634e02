import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { openStack, repoRoot, type Stack, type StackOptions, type Step } from "../../harness/engine/index.js";
import { createTestDatabase, type TestDatabase } from "./testDatabase.js";

export const examplesDir = join(repoRoot, "examples");

/** A database and a DIY backend directory for one test file, and the stacks opened on them. */
export interface EngineBed {
  readonly db: TestDatabase;
  readonly backendDir: string;
  stack(programDir: string, stack: string, extra?: Partial<StackOptions>): Promise<Stack>;
  /** Rows left in the IPAM tables. */
  counts(): Promise<{ subnets: number; allocations: number; addresses: number }>;
  close(): Promise<void>;
}

export async function engineBed(label: string): Promise<EngineBed> {
  const db = await createTestDatabase(label);
  const backendDir = await mkdtemp(join(tmpdir(), "ipam-backend-"));
  const opened: Stack[] = [];
  return {
    db,
    backendDir,
    async stack(programDir, stack, extra = {}) {
      const s = await openStack({ programDir, stack, backendDir, ...extra, config: { "ipam:databaseUrl": db.url, ...extra.config } });
      opened.push(s);
      return s;
    },
    async counts() {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const { rows } = await client.query(
          "SELECT (SELECT count(*) FROM ipam.subnet)::int AS subnets, (SELECT count(*) FROM ipam.allocation)::int AS allocations, (SELECT count(*) FROM ipam.allocated_address)::int AS addresses",
        );
        return rows[0];
      } catch (error) {
        // Nothing has run against this database yet: no schema, no rows.
        if ((error as { code?: string }).code === "42P01") return { subnets: 0, allocations: 0, addresses: 0 };
        throw error;
      } finally {
        await client.end();
      }
    },
    async close() {
      await Promise.all(opened.map((s) => s.close()));
      await db.drop();
      await rm(backendDir, { recursive: true, force: true });
    },
  };
}

/** name -> op of the program's custom resources (the root Stack left out). */
export function opsOf(steps: readonly Step[]): Record<string, string> {
  return Object.fromEntries(steps.filter((s) => s.type !== "pulumi:pulumi:Stack").map((s) => [s.name, s.op]));
}

/** The steps that change something. */
export function changes(steps: readonly Step[]): Step[] {
  return steps.filter((s) => s.op !== "same" && s.type !== "pulumi:pulumi:Stack");
}

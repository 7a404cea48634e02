// Restore and failover (issue 23, migration 0011): the write fence that makes a restored or
// failed-over database refuse writes, what an operator runs to re-open them, and `ipam reconcile`.
import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import { ConflictError } from "../../core/errors.js";
import type { Tables } from "../tables.js";

export type FailoverPolicy = "manual" | "synchronous";

/** What the fence detected (migration 0011 `write_fence_problem`); null: this database last wrote here. */
export interface FenceProblem {
  readonly kind: "copied" | "timeline" | "missing";
  readonly recordedTimeline?: number;
  readonly currentTimeline?: number;
  readonly recordedAt?: string;
}

export interface FenceStatus {
  readonly writable: boolean;
  readonly problem: FenceProblem | null;
  readonly policy: FailoverPolicy;
  readonly recordedAt: string;
  readonly recordedBy: string;
  readonly timeline: number;
}

const statusRow = z.object({
  problem: z.unknown(),
  policy: z.enum(["manual", "synchronous"]),
  recorded_at: z.string(),
  recorded_by: z.string(),
  timeline_id: z.number(),
});

const fn = (t: Tables, name: string) => sql.identifier([t.schema, name]);

/** @throws DatabaseError (through the caller's wrapping) */
export async function readFenceStatus(db: CommonQueryMethods, t: Tables): Promise<FenceStatus> {
  const row = await db.one(sql.type(statusRow)`
    SELECT ${fn(t, "write_fence_problem")}() AS problem, failover_policy AS policy, recorded_at::text AS recorded_at, recorded_by, timeline_id
    FROM ${fn(t, "write_fence")}
  `);
  const problem = (row.problem ?? null) as FenceProblem | null;
  return { writable: problem === null, problem, policy: row.policy, recordedAt: row.recorded_at, recordedBy: row.recorded_by, timeline: row.timeline_id };
}

/**
 * Re-open writes: record the fence where the database is now. Every write of this transaction
 * after this call passes the fence; rolled back, nothing was re-opened.
 * @returns what was detected before (null: writes were open)
 */
export async function recordFence(db: CommonQueryMethods, t: Tables, action: "accept-restore" | "reconcile"): Promise<FenceProblem | null> {
  return (await db.oneFirst(sql.type(z.object({ problem: z.unknown() }))`SELECT ${fn(t, "record_write_fence")}(${action}) AS problem`)) as FenceProblem | null;
}

/**
 * After `recordFence`: when a restore was detected, move the id sequences past every id the caller
 * knows (`knownIds`, from state files) plus a margin, so no id a stack holds is ever issued again;
 * then the audit row `database.<action>` with what was detected and `detail`.
 */
export async function finishReopen(
  db: CommonQueryMethods,
  t: Tables,
  action: "accept-restore" | "reconcile",
  problem: FenceProblem | null,
  knownIds: { allocation: bigint; subnet: number },
  detail: Record<string, unknown> = {},
): Promise<void> {
  if (problem !== null) {
    await db.query(sql.unsafe`SELECT ${fn(t, "advance_ids_past")}(${knownIds.allocation.toString()}::bigint, ${knownIds.subnet})`);
  }
  await db.query(sql.unsafe`
    INSERT INTO ${t.auditEvent} (action, detail) VALUES (${`database.${action}`}, ${sql.jsonb({ detected: problem, ...detail } as never)})
  `);
}

/**
 * Set the failover policy. Refused while a restore is detected: rewriting the fence row would
 * otherwise hide what it detected.
 * @throws ConflictError while writes are refused
 */
export async function setFailoverPolicy(db: CommonQueryMethods, t: Tables, policy: FailoverPolicy): Promise<void> {
  const status = await readFenceStatus(db, t);
  if (!status.writable) {
    throw new ConflictError("policy", "this database refuses writes after a detected restore or failover; run ipam reconcile or ipam db accept-restore first", []);
  }
  await db.query(sql.unsafe`UPDATE ${fn(t, "write_fence")} SET failover_policy = ${policy}`);
  // The row was just rewritten by this transaction: record its new xmin, as record_write_fence does.
  await db.query(sql.unsafe`UPDATE ${fn(t, "write_fence")} SET written_xmin = xmin::text::bigint`);
  await db.query(sql.unsafe`INSERT INTO ${t.auditEvent} (action, detail) VALUES ('database.failover-policy', ${sql.jsonb({ policy })})`);
}

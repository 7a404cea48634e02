import { sql } from "slonik";
import { z } from "zod";
import { ConflictError, DatabaseError, InvalidInputError } from "../../core/errors.js";
import { failureOf } from "../database/databaseErrors.js";
import type { BoundConnection, StoreDatabase } from "../database/storeDatabase.js";
import type { Tables } from "../database/tables.js";

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
export async function readFenceStatus(db: BoundConnection): Promise<FenceStatus> {
  const row = await db.one(sql.type(statusRow)`
    SELECT ${fn(db.t, "write_fence_problem")}() AS problem, failover_policy AS policy, recorded_at::text AS recorded_at, recorded_by, timeline_id
    FROM ${db.t.writeFence}
  `);
  const problem = (row.problem ?? null) as FenceProblem | null;
  return { writable: problem === null, problem, policy: row.policy, recordedAt: row.recorded_at, recordedBy: row.recorded_by, timeline: row.timeline_id };
}

/**
 * Re-open writes: record the fence where the database is now. Every write of this transaction
 * after this call passes the fence; rolled back, nothing was re-opened.
 * @returns what was detected before (null: writes were open)
 */
export async function recordFence(db: BoundConnection, action: "accept-restore" | "reconcile"): Promise<FenceProblem | null> {
  return (await db.oneFirst(sql.type(z.object({ problem: z.unknown() }))`SELECT ${fn(db.t, "record_write_fence")}(${action}) AS problem`)) as FenceProblem | null;
}

/**
 * After `recordFence`: when a restore was detected, or the caller wrote rows with ids of its own
 * (`wroteKeptIds`), move the id sequences past every id the caller knows (`knownIds`, from state
 * files) plus a margin, so no id a stack holds is ever issued again;
 * then the audit row `database.<action>` with what was detected and `detail`.
 */
export async function finishReopen(
  db: BoundConnection,
  action: "accept-restore" | "reconcile",
  problem: FenceProblem | null,
  knownIds: { allocation: bigint; subnet: number },
  detail: Record<string, unknown> = {},
  wroteKeptIds = false,
): Promise<void> {
  if (problem !== null || wroteKeptIds) {
    await db.query(sql.unsafe`SELECT ${fn(db.t, "advance_ids_past")}(${knownIds.allocation.toString()}::bigint, ${knownIds.subnet})`);
  }
  await db.query(sql.unsafe`
    INSERT INTO ${db.t.auditEvent} (action, detail) VALUES (${`database.${action}`}, ${sql.jsonb({ detected: problem, ...detail } as never)})
  `);
}

/**
 * Set the failover policy. Refused while a restore is detected: rewriting the fence row would
 * otherwise hide what it detected.
 * @throws ConflictError while writes are refused
 */
export async function setFailoverPolicy(db: BoundConnection, policy: FailoverPolicy): Promise<void> {
  const status = await readFenceStatus(db);
  if (!status.writable) {
    throw new ConflictError("policy", "this database refuses writes after a detected restore or failover; run ipam reconcile or ipam db accept-restore first", []);
  }
  await db.query(sql.unsafe`UPDATE ${db.t.writeFence} SET failover_policy = ${policy}`);
  // The row was just rewritten by this transaction: record its new xmin, as record_write_fence does.
  await db.query(sql.unsafe`UPDATE ${db.t.writeFence} SET written_xmin = xmin::text::bigint`);
  await db.query(sql.unsafe`INSERT INTO ${db.t.auditEvent} (action, detail) VALUES ('database.failover-policy', ${sql.jsonb({ policy })})`);
}

/** Whether this database accepts writes, and what the fence detected. */
export function writeFence(db: StoreDatabase): Promise<FenceStatus> {
  return db.read("reading the write fence", (tx) => readFenceStatus(tx));
}

/**
 * `ipam db accept-restore`: re-open writes without reconciling; ids move past the old ones.
 * @returns what was detected (null: writes were open; only the audit row is written)
 * @throws DatabaseError (42501) for a role that may not re-open writes
 */
export function acceptRestore(db: StoreDatabase): Promise<FenceProblem | null> {
  return ownerOnly("accepting a restore", () =>
    db.locked([], "accepting a restore", async (tx) => {
      const problem = await recordFence(tx, "accept-restore");
      await finishReopen(tx, "accept-restore", problem, { allocation: 0n, subnet: 0 });
      return problem;
    }),
  );
}

/**
 * `ipam db failover-policy`.
 * @throws InvalidInputError, ConflictError (writes refused), DatabaseError (42501)
 */
export function changeFailoverPolicy(db: StoreDatabase, policy: unknown): Promise<void> {
  if (policy !== "manual" && policy !== "synchronous") throw InvalidInputError.of("policy", "must be manual or synchronous");
  return ownerOnly("setting the failover policy", () => db.locked([], "setting the failover policy", (tx) => setFailoverPolicy(tx, policy)));
}

/** A privilege failure named for what it is: re-opening writes is the schema owner's act. */
export async function ownerOnly<T>(doing: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (failureOf(error).kind === "insufficient-privilege" || (error as { sqlState?: string }).sqlState === "42501") {
      throw new DatabaseError(`${doing} needs the schema owner's login (the least-privilege role may not re-open writes); nothing was changed`, "42501", error);
    }
    throw error;
  }
}

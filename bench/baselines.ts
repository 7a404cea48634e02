import { sql } from "slonik";
import { IPAM_LOCK_CLASS } from "../provider/store/database/lockKeys.js";
import type { BenchContext } from "./benchContext.js";
import { throughput, type Throughput } from "./measure.js";

export interface Baselines {
  readonly plainInsert1: Throughput;
  readonly plainInsert16: Throughput;
  /** One autocommit statement: take one advisory xact lock key, insert a row, commit (the lock is released at commit). */
  readonly lockedInsert16: Throughput;
  /** The same locked insert from one client: its uncontended cost per call. */
  readonly lockedInsert1: Throughput;
}

/** A key no subnet uses (subnet ids are positive int4 identities). */
const BASELINE_LOCK_KEY = -1;

/**
 * The physical limits of this server with this client stack: autocommit single-row inserts from 1
 * and N clients, and N clients serialized on one advisory-lock key with one round trip each.
 */
export async function measureBaselines(context: BenchContext): Promise<Baselines> {
  const { pool, clients, durationMs } = context;
  await pool.query(sql.unsafe`CREATE TABLE IF NOT EXISTS bench_plain (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, client integer NOT NULL, at timestamptz NOT NULL DEFAULT now())`);
  const plain = plainInsert(context);
  context.log("baseline: plain insert, 1 client");
  const plainInsert1 = await throughput(1, durationMs, plain);
  context.log(`baseline: plain insert, ${clients} clients`);
  const plainInsert16 = await throughput(clients, durationMs, plain);
  context.log(`baseline: locked insert (one key, one round trip), ${clients} clients`);
  const locked = lockedInsert(context);
  const lockedInsert16 = await throughput(clients, durationMs, locked);
  context.log("baseline: locked insert, 1 client");
  const lockedInsert1 = await throughput(1, durationMs, locked);
  return { plainInsert1, plainInsert16, lockedInsert16, lockedInsert1 };
}

/** One autocommit single-row insert (the table is made by measureBaselines). */
export function plainInsert({ pool }: BenchContext): (client: number) => Promise<unknown> {
  return (client) => pool.query(sql.unsafe`INSERT INTO bench_plain (client) VALUES (${client})`);
}

/** The same insert under one advisory xact lock key, in one round trip: the one-subnet ceiling. */
export function lockedInsert({ pool }: BenchContext): (client: number) => Promise<unknown> {
  return (client) =>
    pool.query(sql.unsafe`
      INSERT INTO bench_plain (client)
      SELECT ${client} FROM (SELECT pg_advisory_xact_lock(${IPAM_LOCK_CLASS}, ${BASELINE_LOCK_KEY})) AS locked
    `);
}

import pg from "pg";
import { sql } from "slonik";
import { z } from "zod";
import { formatAddress, parseAddress } from "../../core/address.js";
import { LockTimeoutError, NotFoundError, SubnetExhaustedError } from "../../core/errors.js";
import type { AllocationResult } from "../../core/types.js";
import { IPAM_LOCK_CLASS } from "../database/lockKeys.js";
import type { StoreDatabase } from "../database/storeDatabase.js";
import type { PipelinedTransactions } from "../database/pipelinedTransactions.js";

export interface NextRequest {
  readonly subnetId: number;
  readonly owner: string;
  readonly idempotencyKey: string | null;
  readonly description: string;
  readonly tags: Record<string, string>;
}

/**
 * A request the batch statement rolled back on its own (its subtransaction failed), shaped like a
 * driver error (SQLSTATE `code`, `constraint`) so callers map it exactly as they would map the
 * error of a request sent alone, e.g. a twin's idempotency key (23505) is replayed.
 */
export class BatchedRequestError extends Error {
  constructor(
    readonly code: string,
    readonly constraint: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = "BatchedRequestError";
  }
}

const resultRow = z.object({
  index: z.number(),
  status: z.enum(["ok", "not_found", "exhausted", "lock_timeout", "busy", "error"]),
  id: z.string().nullable(),
  created_at: z.string().nullable(),
  updated_at: z.string().nullable(),
  ip_version: z.union([z.literal(4), z.literal(6)]).nullable(),
  ordinal: z.string().nullable(),
  prefix_length: z.number().nullable(),
  gateway: z.string().nullable(),
  sqlstate: z.string().nullable(),
  constraint_name: z.string().nullable(),
  message: z.string().nullable(),
});
type ResultRow = z.infer<typeof resultRow>;

interface Pending {
  readonly request: NextRequest;
  resolve(value: AllocationResult): void;
  reject(error: unknown): void;
}

interface SubnetQueue {
  readonly waiting: Pending[];
  /** A statement serving this subnet is in flight: its next requests wait, so they are served in arrival order. */
  inFlight: boolean;
}

/**
 * Most requests one statement serves: each writing request is a subtransaction, and PostgreSQL
 * tracks up to 64 per transaction in shared memory before every other session's snapshots get
 * slower (subxid overflow).
 */
export const MAX_BATCH = 48;
/**
 * Statements spanning several subnets in flight at once. Such a statement only tries each lock, so
 * it never waits on one; one-subnet statements (which wait for their lock) run beside these, not in
 * their count, so a subnet whose lock another session holds never holds up another subnet. Few
 * shared statements make big batches: with 16 subnets × 1 client, one statement serving all 16
 * measured 0.70 of a plain insert's rate where 4 statements of 4 requests measured 0.35 (bench
 * scenario 2, PG15): each statement is a 4-round-trip transaction and one commit, paid per batch.
 * Requests waiting together go into one statement (see flush); the second serves the requests that
 * arrive while the first is in flight.
 */
export const MAX_SHARED_STATEMENTS = 2;

/**
 * Group commit for next-free allocations: the requests waiting in this process are served
 * together by one `allocate_next_batch` statement (migration 0008) in one transaction (its
 * timeouts set first), so one commit, under the advisory lock of every subnet in it. A subnet has at most one
 * statement in flight; requests arriving meanwhile wait for it and go in the next one, so a
 * subnet's requests are served in the order they arrived. A lone request goes out at once (after
 * the current event-loop turn, which lets requests made in the same turn join it). Several
 * subnets' requests share a statement (up to MAX_SHARED_STATEMENTS such statements at once); it
 * only tries each lock, and a subnet whose lock another session holds is retried alone in a
 * statement that waits for it, outside that count, so no request waits on another subnet's lock. Each request still
 * succeeds or fails on its own; see the migration.
 */
export class NextFreeBatcher {
  private readonly subnets = new Map<number, SubnetQueue>();
  private statements = 0;
  private scheduled = false;

  /**
   * @param db runs each batch's statement in one transaction whose statement and lock timeouts are
   *   set first (a setting made inside a statement does not bound that statement), holding one of
   *   the gate's connection slots
   */
  constructor(
    private readonly db: StoreDatabase,
    /** One round trip per batch (issue 25); null: the pool's transaction, one round trip per statement. */
    private readonly pipelined: PipelinedTransactions | null = null,
  ) {}

  /** Close the pipelined connections. */
  async end(): Promise<void> {
    await this.pipelined?.end();
  }

  /**
   * @returns the new allocation (created), with its subnet's prefix length and gateway (no second
   *   read for them), built here from what the statement returned: the caller maps nothing
   * @throws NotFoundError, SubnetExhaustedError, LockTimeoutError, BatchedRequestError (this request's
   *   own SQL failure, e.g. an idempotency key an earlier request holds); a failure of the whole
   *   transaction (connection lost, statement timeout, OutcomeUnknownError when the COMMIT's answer
   *   was lost), as the transaction runner reports it, for every request in the batch
   */
  allocate(request: NextRequest): Promise<AllocationResult> {
    return new Promise((resolve, reject) => {
      let queue = this.subnets.get(request.subnetId);
      if (queue === undefined) {
        queue = { waiting: [], inFlight: false };
        this.subnets.set(request.subnetId, queue);
      }
      queue.waiting.push({ request, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /**
   * Send what is waiting for subnets with nothing in flight: subnets in arrival order packed into
   * statements of up to MAX_BATCH requests. A statement with one subnet always goes; one with
   * several goes when a shared statement is free, else its subnets wait for the next flush.
   */
  private flush(): void {
    const ready: [number, SubnetQueue][] = [];
    for (const [id, queue] of this.subnets) {
      if (queue.inFlight) continue;
      if (queue.waiting.length === 0) this.subnets.delete(id);
      else ready.push([id, queue]);
    }
    // Packed into as few statements as hold them, not spread over the free shared statements: two
    // statements of 8 subnets run on two server backends at once, but each pays its own transaction
    // (round trip, commit, the function's per-call work) and its answers reach this process apart.
    // Spread, scenario 2 read 0.48–0.54 of the plain insert in six runs on PG15 against 0.56–0.66
    // packed (2026-12-07, docs/benchmark-round-3.md "Pass ten: a faster machine"), where on an earlier,
    // slower machine pgbench (no Node client) had made 2 × 8 1.3× the rate of 1 × 16.
    for (let next = 0; next < ready.length; ) {
      const packed: [number, SubnetQueue][] = [];
      for (let room = MAX_BATCH; next < ready.length && room > 0; next += 1) {
        packed.push(ready[next]!);
        room -= ready[next]![1].waiting.length;
      }
      const shared = packed.length > 1;
      if (shared && this.statements >= MAX_SHARED_STATEMENTS) continue;
      const requests: Pending[] = [];
      for (const [, queue] of packed) {
        queue.inFlight = true;
        requests.push(...queue.waiting.splice(0, MAX_BATCH - requests.length));
      }
      if (shared) this.statements += 1;
      void this.run(requests).then((busy) => {
        if (shared) this.statements -= 1;
        for (const [id] of packed) if (!busy.has(id)) this.release(id);
        // Retried alone: a subnet another session holds waits for its lock in a statement of its own.
        for (const [id, again] of busy) void this.run(again).then(() => this.release(id));
        this.schedule();
      });
    }
  }

  private release(subnetId: number): void {
    const queue = this.subnets.get(subnetId);
    if (queue !== undefined) queue.inFlight = false;
    this.schedule();
  }

  /**
   * Serve one batch and settle its requests, except those whose subnet was busy (another session
   * held its lock; only in a statement spanning several subnets), which are returned. Never throws.
   */
  private async run(batch: readonly Pending[]): Promise<Map<number, Pending[]>> {
    const busy = new Map<number, Pending[]>();
    let rows: readonly ResultRow[];
    try {
      rows = await this.execute(batch.map((pending) => pending.request));
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return busy;
    }
    for (const row of rows) {
      const pending = batch[row.index - 1]!;
      if (row.status === "busy") busy.set(pending.request.subnetId, [...(busy.get(pending.request.subnetId) ?? []), pending]);
      else settle(pending, row);
    }
    return busy;
  }

  private async execute(requests: readonly NextRequest[]): Promise<readonly ResultRow[]> {
    const piped = this.pipelined === null ? null : await this.executePipelined(this.pipelined, requests);
    if (piped !== null) return piped;
    return this.db.locked([], "allocating", (db) => db.any(sql.type(resultRow)`
      SELECT r_index AS index, r_status AS status, r_id::text AS id, r_created_at AS created_at, r_updated_at AS updated_at,
             r_ip_version AS ip_version, r_ordinal::text AS ordinal, r_prefix_length AS prefix_length, r_gateway AS gateway,
             r_sqlstate AS sqlstate, r_constraint AS constraint_name, r_message AS message
      FROM ${db.t.allocateNextBatch}(
        ${sql.array(requests.map((r) => r.subnetId), "int4")},
        ${sql.array(requests.map((r) => r.owner), "text")},
        ${sql.array(requests.map((r) => r.idempotencyKey), "text")},
        ${sql.array(requests.map((r) => r.description), "text")},
        ${sql.array(requests.map((r) => JSON.stringify(r.tags)), "jsonb")},
        ${IPAM_LOCK_CLASS}, ${this.db.settings.lockTimeoutMs})
    `));
  }

  /** The batch in one round trip; null when every pipelined connection is busy (then the pool's way). */
  private executePipelined(pipelined: PipelinedTransactions, requests: readonly NextRequest[]): Promise<readonly ResultRow[] | null> {
    const fn = `${pg.escapeIdentifier(this.db.t.schema)}.allocate_next_batch`;
    return this.db.gate.run("allocating", async () => {
      const rows = await pipelined.transaction<Record<string, unknown>>(
        "allocating",
        `SELECT ${PIPELINED_COLUMNS} FROM ${fn}($1::int4[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6, $7)`,
        [
          requests.map((r) => r.subnetId),
          requests.map((r) => r.owner),
          requests.map((r) => r.idempotencyKey),
          requests.map((r) => r.description),
          requests.map((r) => JSON.stringify(r.tags)),
          IPAM_LOCK_CLASS,
          this.db.settings.lockTimeoutMs,
        ],
      );
      if (rows === null) return null;
      // pg's default parsers: timestamptz as a Date, where the pool's parser gives ISO text.
      return rows.map((row) =>
        resultRow.parse({
          ...row,
          created_at: row.created_at instanceof Date ? row.created_at.toISOString() : row.created_at,
          updated_at: row.updated_at instanceof Date ? row.updated_at.toISOString() : row.updated_at,
        }),
      );
    });
  }
}

/** The same statement as `execute`'s, as text and values for the pipelined connection (pg's own parameter binding). */
const PIPELINED_COLUMNS = `r_index AS index, r_status AS status, r_id::text AS id, r_created_at AS created_at, r_updated_at AS updated_at,
  r_ip_version AS ip_version, r_ordinal::text AS ordinal, r_prefix_length AS prefix_length, r_gateway AS gateway,
  r_sqlstate AS sqlstate, r_constraint AS constraint_name, r_message AS message`;

function settle(pending: Pending, row: ResultRow): void {
  const { request } = pending;
  const subnet = String(request.subnetId);
  switch (row.status) {
    case "ok":
      // The same values allocationResultFromRow (rows/allocationQueries.ts) gives a row read back.
      pending.resolve({
        allocation: {
          id: row.id!,
          subnetId: subnet,
          owner: request.owner,
          idempotencyKey: request.idempotencyKey,
          claim: null,
          strategy: "sequential",
          addresses: [formatAddress(row.ip_version!, BigInt(row.ordinal!))],
          description: request.description,
          tags: request.tags,
          createdAt: row.created_at!,
          updatedAt: row.updated_at!,
        },
        created: true,
        subnet: { prefixLength: row.prefix_length!, gateway: row.gateway === null ? null : parseAddress(row.gateway, "gateway").text },
      });
      return;
    case "not_found":
      return pending.reject(new NotFoundError("subnet", subnet));
    case "exhausted":
      return pending.reject(new SubnetExhaustedError(subnet, 1));
    case "lock_timeout":
      return pending.reject(new LockTimeoutError(subnet));
    default:
      return pending.reject(new BatchedRequestError(row.sqlstate ?? "XX000", row.constraint_name || undefined, row.message ?? "the request failed"));
  }
}

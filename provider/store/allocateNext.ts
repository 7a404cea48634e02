import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import { LockTimeoutError, NotFoundError, SubnetExhaustedError } from "../core/errors.js";
import { sqlStateOf } from "./databaseErrors.js";
import { IPAM_LOCK_CLASS } from "./lockKeys.js";
import type { AllocationRow } from "./rows.js";
import type { Tables } from "./tables.js";

export interface NextRequest {
  readonly subnetId: number;
  readonly owner: string;
  readonly idempotencyKey: string | null;
  readonly description: string;
  readonly tags: Record<string, string>;
}

const resultRow = z.object({
  status: z.enum(["ok", "not_found", "exhausted"]),
  id: z.string().nullable(),
  created_at: z.string().nullable(),
  updated_at: z.string().nullable(),
  ip_version: z.union([z.literal(4), z.literal(6)]).nullable(),
  ordinal: z.string().nullable(),
});

/**
 * The next free address as one statement: `allocate_next` (migration 0003) takes the
 * subnet's advisory lock, reads the subnet and its lowest free range after the lock is granted,
 * carves the address out and inserts the allocation and its address (a trigger writes the audit row). `db` is a
 * transaction that has only set the timeouts (SET LOCAL statement_timeout and lock_timeout, which
 * must precede the statement they bound: a setting made inside a statement does not re-arm its
 * own timer); the lock is held until its COMMIT, one round trip after the server-side work.
 * The lock wait is also bounded by lock_timeout, set inside before it.
 * @throws NotFoundError, SubnetExhaustedError, LockTimeoutError; unique violations (idempotency key) propagate as driver errors
 */
export async function allocateNext(db: CommonQueryMethods, t: Tables, request: NextRequest, lockTimeoutMs: number): Promise<AllocationRow> {
  let row: z.infer<typeof resultRow>;
  try {
    row = await db.one(sql.type(resultRow)`
      SELECT r_status AS status, r_id::text AS id, r_created_at AS created_at, r_updated_at AS updated_at,
             r_ip_version AS ip_version, r_ordinal::text AS ordinal
      FROM ${t.allocateNext}(${request.subnetId}, ${request.owner}, ${request.idempotencyKey}, ${request.description},
                             ${sql.jsonb(request.tags)}, ${IPAM_LOCK_CLASS}, ${lockTimeoutMs})
    `);
  } catch (error) {
    if (sqlStateOf(error) === "55P03") throw new LockTimeoutError(String(request.subnetId), error);
    throw error;
  }
  if (row.status === "not_found") throw new NotFoundError("subnet", String(request.subnetId));
  if (row.status === "exhausted") throw new SubnetExhaustedError(String(request.subnetId), 1);
  return {
    id: row.id!,
    subnet_id: request.subnetId,
    owner: request.owner,
    idempotency_key: request.idempotencyKey,
    claim: null,
    strategy: "sequential",
    requested_address: null,
    description: request.description,
    tags: request.tags,
    created_at: row.created_at!,
    updated_at: row.updated_at!,
    ip_version: row.ip_version!,
    ordinals: [row.ordinal!],
  };
}

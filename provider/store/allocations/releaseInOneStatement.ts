import pg from "pg";
import { sql } from "slonik";
import { z } from "zod";
import { LockTimeoutError } from "../../core/errors.js";
import type { ReleaseResult } from "../../core/types.js";
import { IPAM_LOCK_CLASS } from "../database/lockKeys.js";
import { withLockHolder } from "../database/lockHolder.js";
import type { PipelinedTransactions } from "../database/pipelinedTransactions.js";
import type { StoreDatabase } from "../database/storeDatabase.js";
import { sortedAddresses } from "../rows/allocationQueries.js";

const outcomeRow = z.object({
  status: z.enum(["released", "not_found", "elsewhere", "superseded", "hold_down", "lock_timeout"]),
  cidr: z.string().nullable(),
  ordinals: z.array(z.string()).nullable(),
});
type Outcome = z.infer<typeof outcomeRow>;

/** What a release answers when it changed nothing: nothing to release, or a newer claimant holds it. */
export const NOT_RELEASED: ReleaseResult = { released: false, addresses: [] };
export const SUPERSEDED: ReleaseResult = { released: false, addresses: [], superseded: true };

/** viaPool's columns, as text for the pipelined connection (pg's own parameter binding). */
const COLUMNS = "r_status AS status, r_cidr AS cidr, r_ordinals AS ordinals";

/**
 * A release as one statement (migration 0023, `release_allocation`: the subnet's lock, the read,
 * the delete and the addresses back to the free index), sent in one round trip on a pipelined
 * connection when one is free, else in the pool's transaction (BEGIN, the timeouts, the statement,
 * COMMIT). A destroy releases every allocation of a stack, one call each (bench scenario 13).
 * @returns the release; "elsewhere" when the allocation is in another subnet; "hold_down" when the
 *   subnet holds released addresses back (nothing changed: the caller releases through its own path)
 * @throws LockTimeoutError naming the lock's holder; database errors as every locked transaction's
 */
export async function releaseInOneStatement(
  db: StoreDatabase,
  pipelined: PipelinedTransactions | null,
  subnetId: number,
  allocationId: string,
  claim: string | undefined,
): Promise<ReleaseResult | "elsewhere" | "hold_down"> {
  const outcome = (await viaPipeline(db, pipelined, subnetId, allocationId, claim)) ?? (await viaPool(db, subnetId, allocationId, claim));
  switch (outcome.status) {
    case "released":
      return { released: true, addresses: sortedAddresses({ cidr: outcome.cidr! }, outcome.ordinals!.map((ordinal) => BigInt(ordinal))) };
    case "not_found":
      return NOT_RELEASED;
    case "superseded":
      return SUPERSEDED;
    case "elsewhere":
    case "hold_down":
      return outcome.status;
    case "lock_timeout":
      throw await withLockHolder(db.pool, new LockTimeoutError(String(subnetId)));
  }
}

/** One round trip; null when every pipelined connection is busy (nothing sent). */
function viaPipeline(db: StoreDatabase, pipelined: PipelinedTransactions | null, subnetId: number, allocationId: string, claim: string | undefined): Promise<Outcome | null> {
  if (pipelined === null) return Promise.resolve(null);
  const fn = `${pg.escapeIdentifier(db.t.schema)}.release_allocation`;
  return db.gate.run("releasing", async () => {
    const rows = await pipelined.transaction<Record<string, unknown>>("releasing", `SELECT ${COLUMNS} FROM ${fn}($1, $2::bigint, $3, $4)`, [subnetId, allocationId, claim ?? null, IPAM_LOCK_CLASS]);
    return rows === null ? null : outcomeRow.parse(rows[0]);
  });
}

function viaPool(db: StoreDatabase, subnetId: number, allocationId: string, claim: string | undefined): Promise<Outcome> {
  return db.locked([], "releasing", (tx) =>
    tx.one(sql.type(outcomeRow)`
      SELECT r_status AS status, r_cidr AS cidr, r_ordinals AS ordinals
      FROM ${db.t.releaseAllocation}(${subnetId}, ${allocationId}::bigint, ${claim ?? null}::text, ${IPAM_LOCK_CLASS})
    `),
  );
}

import pg from "pg";
import { LockTimeoutError } from "../../core/errors.js";
import type { ReleaseResult } from "../../core/types.js";
import { failureOf } from "../database/databaseErrors.js";
import { withLockHolder } from "../database/lockHolder.js";
import { IPAM_LOCK_CLASS } from "../database/lockKeys.js";
import type { PipelinedTransactions } from "../database/pipelinedTransactions.js";
import type { StoreDatabase } from "../database/storeDatabase.js";
import { isSuperseded } from "../claims/claims.js";
import { sortedAddresses } from "../rows/allocationQueries.js";
import { takenRow } from "./releaseStatement.js";

/*
 * A release whose subnet the caller knows, in one round trip (issue 25, bench scenario 13: a destroy
 * releases every allocation of a stack, one call each, where the pool's transaction paid BEGIN, the
 * timeouts and lock, the take, the free space and COMMIT as five round trips). The same transaction
 * as releaseUnderLock's (allocationChanges.ts), as statements sent together on a pipelined
 * connection, none needing an earlier one's answer:
 *   1. the subnet's advisory lock (lockKeys.ts), alone, so the statements after it read what the
 *      lock's previous holder committed (a statement's snapshot predates a lock taken inside it);
 *   2. takeForRelease's statement (releaseStatement.ts), which also leaves what it deleted in a
 *      transaction-local setting (like ipam.audit_action): the next statement is sent before this
 *      one's answer, so it cannot be given the addresses;
 *   3. releaseOrHold's work (space/holdDown.ts) on those addresses, in SQL: the allocatable ones back
 *      through sync_free_ranges, or into held_address for the subnet's hold. Nothing when 2 deleted
 *      nothing.
 * The decision (not found, elsewhere, superseded, released) is made from 2's row exactly as
 * releaseUnderLock makes it; its DELETE condition is that decision's.
 */

const RELEASED_SETTING = "ipam.released";

/**
 * @returns as releaseUnderLock ("elsewhere" when the allocation is in another subnet), or null when
 *   nothing was sent (every pipelined connection busy, or locking switched off in a test)
 * @throws LockTimeoutError (naming the holder), OutcomeUnknownError when the answers were lost after
 *   COMMIT was sent; other failures via wrapDatabaseError
 */
export async function releasePipelined(
  db: StoreDatabase,
  pipelined: PipelinedTransactions,
  subnetId: number,
  id: string,
  claim: string | undefined,
): Promise<ReleaseResult | "elsewhere" | null> {
  if (db.settings.unsafeSkipLocking) return null;
  const schema = pg.escapeIdentifier(db.t.schema);
  let results: pg.QueryResult[] | null;
  try {
    results = await db.gate.run("releasing", () =>
      pipelined.statements(
        "releasing",
        [
          { text: "SELECT pg_advisory_xact_lock($1::int4, $2::int4)", values: [IPAM_LOCK_CLASS, subnetId] },
          { text: takeStatement(schema), values: [id, subnetId, claim ?? null, RELEASED_SETTING] },
          { text: returnStatement(schema), values: [subnetId, id, RELEASED_SETTING] },
        ],
        (error, index) => (index === 0 && failureOf(error).kind === "lock-not-available" ? new LockTimeoutError(String(subnetId), error) : undefined),
      ),
    );
  } catch (error) {
    // Named after the rollback, on a fresh connection, as inLockedTransaction does.
    if (error instanceof LockTimeoutError) throw await withLockHolder(db.pool, error);
    throw error;
  }
  if (results === null) return null;
  const row = results[1]!.rows[0] as Record<string, unknown> | undefined;
  if (row === undefined) return NOT_RELEASED;
  const taken = takenRow.parse(row);
  if (taken.subnet_id !== subnetId) return "elsewhere";
  if (isSuperseded(taken.claim, claim)) return { released: false, addresses: [], superseded: true };
  if (taken.deleted_owner === null) return NOT_RELEASED;
  return { released: true, addresses: sortedAddresses(taken, taken.ordinals.map((ordinal) => BigInt(ordinal))) };
}

const NOT_RELEASED: ReleaseResult = { released: false, addresses: [] };

/** takeForRelease's statement, plus what it deleted (ordinals, owner, hold) in the transaction-local setting $4. */
function takeStatement(schema: string): string {
  return `
    WITH target AS (
      SELECT a.id, a.subnet_id, a.claim, ARRAY(SELECT ordinal::text FROM ${schema}.allocated_address x WHERE x.allocation_id = a.id) AS ordinals,
             s.cidr::text AS cidr, host(s.gateway) AS gateway, s.pools, s.pools_explicit, s.reserved, s.release_hold_seconds
      FROM ${schema}.allocation a JOIN ${schema}.subnet s ON s.id = a.subnet_id
      WHERE a.id = $1::bigint
    ), deleted AS (
      DELETE FROM ${schema}.allocation a USING target t
      WHERE a.id = t.id AND t.subnet_id = $2::int4
        AND NOT ($3::text IS NOT NULL AND t.claim IS NOT NULL AND t.claim <> $3::text)
      RETURNING a.owner
    ), released AS (
      SELECT (SELECT owner FROM deleted) AS deleted_owner
    )
    SELECT t.subnet_id, t.claim, t.ordinals, t.cidr, t.gateway, t.pools, t.pools_explicit, t.reserved, t.release_hold_seconds,
           r.deleted_owner,
           set_config($4::text, CASE WHEN r.deleted_owner IS NULL THEN '' ELSE
             jsonb_build_object('owner', r.deleted_owner, 'hold', t.release_hold_seconds, 'ordinals', to_jsonb(t.ordinals))::text END, true) AS noted
    FROM target t CROSS JOIN released r
  `;
}

/**
 * releaseOrHold on what the take statement noted ($3): its allocatable addresses into the free space
 * in runs of consecutive ordinals (returnToFreeSpace), or held for the subnet's hold seconds. The
 * setting is '' (or unset) when nothing was deleted: then no row, nothing written.
 */
function returnStatement(schema: string): string {
  return `
    WITH noted AS (
      SELECT v->>'owner' AS owner, (v->>'hold')::int AS hold, v->'ordinals' AS ordinals
      FROM (SELECT nullif(current_setting($3::text, true), '')::jsonb AS v) AS setting WHERE v IS NOT NULL
    ), space AS (
      SELECT ${schema}.allocatable_space($1::int4) AS available FROM noted
    ), kept AS (
      SELECT n.owner, n.hold, o.value::numeric AS ordinal
      FROM noted n CROSS JOIN space CROSS JOIN LATERAL jsonb_array_elements_text(n.ordinals) AS o(value)
      WHERE o.value::numeric <@ space.available
    ), runs AS (
      SELECT min(ordinal) AS lo, max(ordinal) AS hi
      FROM (SELECT ordinal, ordinal - row_number() OVER (ORDER BY ordinal) AS run FROM kept WHERE hold <= 0) AS numbered
      GROUP BY run
    ), freed AS (
      SELECT ${schema}.sync_free_ranges($1::int4, array_agg(lo ORDER BY lo), array_agg(hi ORDER BY lo)) AS done
      FROM runs HAVING count(*) > 0
    ), held AS (
      INSERT INTO ${schema}.held_address (subnet_id, ordinal, address, held_until, owner, allocation_id)
      SELECT $1::int4, k.ordinal, ${schema}.ordinal_to_inet(k.ordinal, family(s.cidr)), now() + make_interval(secs => k.hold), k.owner, $2::bigint
      FROM kept k JOIN ${schema}.subnet s ON s.id = $1::int4
      WHERE k.hold > 0
      ON CONFLICT (subnet_id, ordinal) DO UPDATE
        SET held_until = excluded.held_until, owner = excluded.owner, allocation_id = excluded.allocation_id, address = excluded.address
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM freed) AS freed, (SELECT count(*) FROM held) AS held
  `;
}

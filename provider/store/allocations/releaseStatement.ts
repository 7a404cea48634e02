import { sql } from "slonik";
import { z } from "zod";
import type { BoundConnection } from "../database/storeDatabase.js";

const takenRow = z.object({
  subnet_id: z.number(),
  claim: z.string().nullable(),
  ordinals: z.array(z.string()),
  cidr: z.string(),
  gateway: z.string().nullable(),
  pools: z.array(z.object({ start: z.string(), end: z.string() })),
  pools_explicit: z.boolean(),
  reserved: z.array(z.string()),
  release_hold_seconds: z.number(),
  /** The deleted allocation's owner; null when nothing was deleted (another subnet's, or a newer claimant's). */
  deleted_owner: z.string().nullable(),
});
export type TakenForRelease = z.infer<typeof takenRow>;

/**
 * Read what a release decides on and delete the allocation, in one statement (one round trip where
 * the read and the DELETE were two; a destroy pays it per resource, bench scenario 13). Call under
 * `subnetId`'s lock: the statement starts after the lock was granted, so it reads the latest data.
 * The DELETE happens only when the allocation is in `subnetId` and `claim` is not superseded (the
 * rule of claims.ts `isSuperseded`: an older token than the stored one; a stored NULL supersedes
 * no one); the audit trigger records it as before. Both sub-statements see the same snapshot, so
 * the addresses returned are the ones the DELETE took with it.
 * @returns null when there is no allocation with that id
 */
export async function takeForRelease(db: BoundConnection, subnetId: number, id: string, claim: string | undefined): Promise<TakenForRelease | null> {
  return db.maybeOne(sql.type(takenRow)`
    WITH target AS (
      SELECT a.id, a.subnet_id, a.claim, ARRAY(SELECT ordinal::text FROM ${db.t.allocatedAddress} x WHERE x.allocation_id = a.id) AS ordinals,
             s.cidr::text AS cidr, host(s.gateway) AS gateway, s.pools, s.pools_explicit, s.reserved, s.release_hold_seconds
      FROM ${db.t.allocation} a JOIN ${db.t.subnet} s ON s.id = a.subnet_id
      WHERE a.id = ${id}::bigint
    ), deleted AS (
      DELETE FROM ${db.t.allocation} a USING target t
      WHERE a.id = t.id AND t.subnet_id = ${subnetId}
        AND NOT (${claim ?? null}::text IS NOT NULL AND t.claim IS NOT NULL AND t.claim <> ${claim ?? null}::text)
      RETURNING a.owner
    )
    SELECT t.subnet_id, t.claim, t.ordinals, t.cidr, t.gateway, t.pools, t.pools_explicit, t.reserved, t.release_hold_seconds,
           (SELECT owner FROM deleted) AS deleted_owner
    FROM target t
  `);
}

import { sql } from "slonik";
import { isAllocatable, type SubnetLayout } from "../../core/subnetLayout.js";
import { normalizeRanges, type ValueRange } from "../../core/range.js";
import { type BoundConnection } from "../database/storeDatabase.js";

/**
 * The free-range index is written only by the schema's own functions (migration 0012), which run
 * as the schema owner and derive what they write from the subnet's data: the store's role cannot
 * write it, so it cannot hide free space. Every function here runs inside the subnet's lock.
 */

const text = (value: bigint) => value.toString();

export function rangesFromRows(rows: readonly { first_ordinal: string; last_ordinal: string }[]): ValueRange[] {
  return rows.map((row) => ({ first: BigInt(row.first_ordinal), last: BigInt(row.last_ordinal) }));
}

/**
 * Inside `windows` the free ranges become exactly what is free there (pools minus what the subnet
 * keeps back, minus allocated, held and child addresses), merged with their neighbours. Taking
 * addresses that were just allocated, giving released ones back and cutting a child's block out
 * are all this call.
 */
export async function syncFreeRanges(db: BoundConnection, subnetId: number, windows: readonly ValueRange[]): Promise<void> {
  const runs = normalizeRanges(windows);
  if (runs.length === 0) return;
  await db.query(sql.unsafe`
    SELECT ${sql.identifier([db.t.schema, "sync_free_ranges"])}(${subnetId},
      ${sql.array(runs.map((r) => text(r.first)), "numeric")}, ${sql.array(runs.map((r) => text(r.last)), "numeric")})
  `);
}

/**
 * Recompute a subnet's free ranges from scratch: when a subnet is created, imported or reconciled.
 * A layout change re-derives only where it changed (subnetChanges.ts `changedSpace`).
 */
export async function rebuildFreeRanges(db: BoundConnection, subnetId: number): Promise<void> {
  await db.query(sql.unsafe`SELECT ${sql.identifier([db.t.schema, "rebuild_free_ranges"])}(${subnetId})`);
}

/**
 * Give released addresses back to the free space: merged with the neighbouring free ranges
 * (`return_released`, migration 0020), not a re-derived window. The database takes only those it
 * confirms are allocatable and taken by nothing; the layout filter here only saves it the work.
 */
export async function returnToFreeSpace(db: BoundConnection, subnetId: number, layout: SubnetLayout, ordinals: readonly bigint[]): Promise<void> {
  const kept = ordinals.filter((ordinal) => isAllocatable(layout, ordinal));
  if (kept.length === 0) return;
  await db.query(sql.unsafe`SELECT ${sql.identifier([db.t.schema, "return_released"])}(${subnetId}, ${sql.array(kept.map(text), "numeric")})`);
}

import { sql } from "slonik";
import { z } from "zod";
import type { AuditEvent } from "../../core/historyFilter.js";
import { type BoundConnection } from "../database/storeDatabase.js";

/** Addresses returned per event: a 65,536-address allocation is one event, not 65,536 lines. */
export const HISTORY_ADDRESSES_PER_EVENT = 256;

export interface AuditQuery {
  readonly subnetId?: number | undefined;
  /** Canonical address text. */
  readonly address?: string | undefined;
  readonly owner?: string | undefined;
  readonly allocationId?: string | undefined;
  readonly since?: string | undefined;
  readonly before?: string | undefined;
  readonly limit: number;
}

const auditEventRow = z.object({
  id: z.string(),
  at: z.string(),
  action: z.string(),
  subnet_id: z.number().nullable(),
  cidr: z.string().nullable(),
  allocation_id: z.string().nullable(),
  owner: z.string().nullable(),
  addresses: z.array(z.string()),
  address_count: z.number(),
  detail: z.record(z.string(), z.unknown()),
});

/** Audit events matching every given filter, newest first. */
export async function listAuditEvents(db: BoundConnection, query: AuditQuery): Promise<AuditEvent[]> {
  const conditions = [sql.fragment`TRUE`];
  if (query.subnetId !== undefined) conditions.push(sql.fragment`e.subnet_id = ${query.subnetId}`);
  if (query.owner !== undefined) conditions.push(sql.fragment`e.owner = ${query.owner}`);
  if (query.allocationId !== undefined) conditions.push(sql.fragment`e.allocation_id = ${query.allocationId}::bigint`);
  if (query.since !== undefined) conditions.push(sql.fragment`e.at >= ${query.since}::timestamptz`);
  if (query.before !== undefined) conditions.push(sql.fragment`e.id < ${query.before}::bigint`);
  // An address's events come first from the GIN index on addresses (migration 0008; it serves
  // containment, not `= ANY`). OFFSET 0 keeps that subquery apart: otherwise the planner, which
  // cannot estimate how rare one address is, walks the primary key newest first and filters.
  const source =
    query.address === undefined
      ? sql.fragment`${db.t.auditEvent}`
      : sql.fragment`(SELECT * FROM ${db.t.auditEvent} WHERE addresses @> ARRAY[${query.address}::inet] OFFSET 0)`;
  const rows = await db.any(sql.type(auditEventRow)`
    SELECT e.id::text AS id, e.at, e.action, e.subnet_id, e.cidr::text AS cidr, e.allocation_id::text AS allocation_id, e.owner,
           ARRAY(SELECT host(x) FROM unnest(e.addresses) AS x ORDER BY x LIMIT ${HISTORY_ADDRESSES_PER_EVENT}) AS addresses,
           cardinality(e.addresses) AS address_count, e.detail
    FROM ${source} e
    WHERE ${sql.join(conditions, sql.fragment` AND `)}
    ORDER BY e.id DESC
    LIMIT ${query.limit}
  `);
  return rows.map((row) => ({
    id: row.id,
    at: row.at,
    action: row.action,
    subnetId: row.subnet_id === null ? null : String(row.subnet_id),
    cidr: row.cidr,
    allocationId: row.allocation_id,
    owner: row.owner,
    addresses: row.addresses,
    addressCount: row.address_count,
    detail: row.detail,
  }));
}

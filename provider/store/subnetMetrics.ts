import { sql, type CommonQueryMethods } from "slonik";
import { z } from "zod";
import { rangeSize, totalSize } from "../core/range.js";
import { subnetRow } from "./rows.js";
import { layoutOf } from "./subnetRecords.js";
import { selectSubnet } from "./subnetQueries.js";
import type { Tables } from "./tables.js";

/** The figures `/metrics` exports for one subnet, as decimal strings (IPv6 sizes exceed 2^53). */
export interface SubnetMetric {
  readonly subnetId: string;
  readonly namespace: string;
  readonly cidr: string;
  readonly childrenOnly: boolean;
  /** Addresses in the CIDR. */
  readonly total: string;
  readonly poolSize: string;
  readonly allocated: string;
  readonly free: string;
  readonly childPrefixes: number;
}

const metricRow = subnetRow.extend({ allocated: z.string(), free: z.string(), child_prefixes: z.number() });

/**
 * Every subnet's figures in ONE grouped statement: each table is scanned once and grouped, never
 * queried per subnet, so a scrape costs one round trip and one plan however many subnets there are
 * (its work still grows with the rows it reads). Figures match `readSubnetUsages`.
 */
export async function readSubnetMetrics(db: CommonQueryMethods, t: Tables): Promise<SubnetMetric[]> {
  const rows = await db.any(sql.type(metricRow)`
    SELECT q.*, coalesce(a.n, 0)::text AS allocated, coalesce(f.n, 0)::numeric(39, 0)::text AS free, coalesce(c.n, 0)::int AS child_prefixes
    FROM (${selectSubnet(t)}) AS q
    LEFT JOIN (SELECT subnet_id, count(*) AS n FROM ${t.allocatedAddress} GROUP BY subnet_id) a ON a.subnet_id = q.id
    LEFT JOIN (SELECT subnet_id, sum(last_ordinal - first_ordinal + 1) AS n FROM ${t.freeRange} GROUP BY subnet_id) f ON f.subnet_id = q.id
    LEFT JOIN (SELECT parent_id, count(*) AS n FROM ${t.subnet} WHERE parent_id IS NOT NULL GROUP BY parent_id) c ON c.parent_id = q.id
    ORDER BY q.id
  `);
  return rows.map((row) => {
    const layout = layoutOf(row);
    return {
      subnetId: String(row.id),
      namespace: row.namespace,
      cidr: layout.cidr.text,
      childrenOnly: row.children_only,
      total: rangeSize(layout.cidr).toString(),
      poolSize: totalSize(layout.available).toString(),
      allocated: row.allocated,
      free: row.free,
      childPrefixes: row.child_prefixes,
    };
  });
}

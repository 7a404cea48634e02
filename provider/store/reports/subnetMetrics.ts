import { sql } from "slonik";
import { z } from "zod";
import { parseCidr } from "../../core/address.js";
import { rangeSize, totalSize } from "../../core/range.js";
import { buildLayout } from "../../core/subnetLayout.js";
import { parseInput, subnetFilterSchema } from "../../core/schemas.js";
import { type BoundConnection, type StoreDatabase } from "../database/storeDatabase.js";

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
  /** Released addresses in hold-down (live holds), as `SubnetUsage.held`. */
  readonly held: string;
  readonly childPrefixes: number;
}

/** Only what the figures need: a scrape reads every subnet, so no description or tags. */
const metricRow = z.object({
  id: z.number(),
  namespace: z.string(),
  cidr: z.string(),
  gateway: z.string().nullable(),
  pools: z.array(z.object({ start: z.string(), end: z.string() })),
  pools_explicit: z.boolean(),
  reserved: z.array(z.string()),
  children_only: z.boolean(),
  allocated: z.string(),
  free: z.string(),
  held: z.string(),
  child_prefixes: z.number(),
});

/**
 * A subnet's size and pool size by its layout columns: deriving them (parsing the CIDR, pools,
 * gateway and reserved) cost 80 µs a subnet, most of a 100k-subnet scrape, and layouts rarely
 * change between scrapes. Keyed by the columns themselves, so an edited subnet is simply a new key.
 */
export class SubnetSizeCache {
  private readonly sizes = new Map<string, { total: string; poolSize: string; cidr: string }>();

  constructor(private readonly maxEntries = 1_000_000) {}

  sizeOf(row: Pick<z.infer<typeof metricRow>, "cidr" | "gateway" | "pools" | "pools_explicit" | "reserved">): { total: string; poolSize: string; cidr: string } {
    const key = `${row.cidr}|${row.gateway ?? ""}|${row.pools_explicit ? JSON.stringify(row.pools) : ""}|${JSON.stringify(row.reserved)}`;
    let size = this.sizes.get(key);
    if (size === undefined) {
      const layout = buildLayout(parseCidr(row.cidr, "cidr"), { allocationPools: row.pools_explicit ? row.pools : null, gateway: row.gateway, reserved: row.reserved });
      size = { cidr: layout.cidr.text, total: rangeSize(layout.cidr).toString(), poolSize: totalSize(layout.available).toString() };
      // Deleted and edited subnets leave stale keys behind: start over rather than grow without bound.
      if (this.sizes.size >= this.maxEntries) this.sizes.clear();
      this.sizes.set(key, size);
    }
    return size;
  }
}

/**
 * Every subnet's figures (of one namespace, or all) in ONE grouped statement: each table is scanned
 * once and grouped, never queried per subnet, so a scrape costs one round trip and one plan however
 * many subnets there are (its work still grows with the rows it reads). Figures match `readSubnetUsages`.
 */
async function readSubnetMetrics(db: BoundConnection, namespace: string | undefined, sizes: SubnetSizeCache): Promise<SubnetMetric[]> {
  const t = db.t;
  const where = namespace === undefined ? sql.fragment`TRUE` : sql.fragment`n.name = ${namespace}`;
  const rows = await db.any(sql.type(metricRow)`
    SELECT s.id, n.name AS namespace, s.cidr::text AS cidr, host(s.gateway) AS gateway, s.pools, s.pools_explicit, s.reserved, s.children_only,
           coalesce(a.n, 0)::text AS allocated, coalesce(f.n, 0)::numeric(39, 0)::text AS free,
           coalesce(h.n, 0)::text AS held, coalesce(c.n, 0)::int AS child_prefixes
    FROM ${t.subnet} s JOIN ${t.namespace} n ON n.id = s.namespace_id
    LEFT JOIN (SELECT subnet_id, count(*) AS n FROM ${t.allocatedAddress} GROUP BY subnet_id) a ON a.subnet_id = s.id
    LEFT JOIN (SELECT subnet_id, sum(last_ordinal - first_ordinal + 1) AS n FROM ${t.freeRange} GROUP BY subnet_id) f ON f.subnet_id = s.id
    LEFT JOIN (SELECT subnet_id, count(*) AS n FROM ${t.heldAddress} WHERE held_until > now() GROUP BY subnet_id) h ON h.subnet_id = s.id
    LEFT JOIN (SELECT parent_id, count(*) AS n FROM ${t.subnet} WHERE parent_id IS NOT NULL GROUP BY parent_id) c ON c.parent_id = s.id
    WHERE ${where}
    ORDER BY s.id
  `);
  return rows.map((row) => {
    const size = sizes.sizeOf(row);
    return {
      subnetId: String(row.id),
      namespace: row.namespace,
      cidr: size.cidr,
      childrenOnly: row.children_only,
      total: size.total,
      poolSize: size.poolSize,
      allocated: row.allocated,
      free: row.free,
      held: row.held,
      childPrefixes: row.child_prefixes,
    };
  });
}

/**
 * Every subnet's figures (of one namespace, or all), for /metrics and the fullest-first view.
 * @throws InvalidInputError
 */
export async function subnetMetrics(store: StoreDatabase, filter: { namespace?: string }, sizes: SubnetSizeCache): Promise<SubnetMetric[]> {
  const { namespace } = parseInput(subnetFilterSchema, filter);
  return store.consistent("reading metrics", (db) => readSubnetMetrics(db, namespace, sizes));
}

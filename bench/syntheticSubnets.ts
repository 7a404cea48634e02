import { sql, type DatabasePool, type FragmentSqlToken } from "slonik";
import { z } from "zod";
import type { Tables } from "../provider/store/database/tables.js";

const OWNERS = 50;
/** Subnets per allocation (and free-range) statement: the guards' cost per statement is rows × subnets. */
const SUBNETS_PER_STATEMENT = 100;

/** Where synthetic subnets go: subnet g is the /24 at `base` + 256 g, under `parentId` (null: top level). */
export interface SubnetRun {
  readonly namespaceId: number;
  readonly parentId: number | null;
  readonly base: string;
}

/**
 * Append synthetic /24 subnets g = from … total-1 in bulk SQL, each in the default pools with one
 * allocation of its last usable address and the free range in front of it, as createSubnet and
 * allocate would leave them (built in minutes at 100k instead of one call per subnet).
 */
export async function growSubnets(pool: DatabasePool, t: Tables, run: SubnetRun, from: number, total: number): Promise<void> {
  const net = (g: FragmentSqlToken) => sql.fragment`${run.base}::inet + ${g} * 256`;
  await pool.query(sql.unsafe`
    INSERT INTO ${t.subnet} (namespace_id, parent_id, cidr, pools, pools_explicit, description)
    SELECT ${run.namespaceId}, ${run.parentId}, set_masklen(n, 24)::cidr, jsonb_build_array(jsonb_build_object('start', host(n + 1), 'end', host(n + 254))), false, 'bench'
    FROM generate_series(${from}::bigint, ${total - 1}::bigint) AS g, LATERAL (SELECT ${net(sql.fragment`g`)} AS n) AS net
  `);
  // Before the joins below: statistics from before the insert make the planner loop over the new rows.
  await pool.query(sql.unsafe`ANALYZE ${t.subnet}`);
  // The allocations and free ranges go in a few subnets per statement, as the product writes them
  // (one subnet per statement, or a group-commit batch of a few), with every trigger running. One
  // statement for all 100k subnets never finished: the guards on allocated_address (0010's
  // guard_allocated_addresses) and on free_range (free_space_problem) test each new row against a
  // CTE of every subnet the statement touches, so one statement costs rows × subnets (measured on
  // PG15: 12 s at 3k subnets, 103 s at 10k; at 100k it sat in BufFileRead, the CTE spilled to disk).
  for (let lo = from; lo < total; lo += SUBNETS_PER_STATEMENT) {
    await addAllocationAndFreeRange(pool, t, run, lo, Math.min(lo + SUBNETS_PER_STATEMENT, total) - 1);
  }
  await pool.query(sql.unsafe`VACUUM (ANALYZE) ${t.subnet}, ${t.allocation}, ${t.allocatedAddress}, ${t.freeRange}, ${t.auditEvent}`);
}

/** Subnets g = lo … hi (already inserted) get their allocation, address and free range. */
async function addAllocationAndFreeRange(pool: DatabasePool, t: Tables, run: SubnetRun, lo: number, hi: number): Promise<void> {
  const net = (g: FragmentSqlToken) => sql.fragment`${run.base}::inet + ${g} * 256`;
  const added = sql.fragment`
    SELECT id, network(cidr) AS n FROM ${t.subnet}
    WHERE namespace_id = ${run.namespaceId} AND parent_id IS NOT DISTINCT FROM ${run.parentId}
      AND cidr >= set_masklen(${net(sql.fragment`${lo}::bigint`)}, 24)::cidr AND cidr <= set_masklen(${net(sql.fragment`${hi}::bigint`)}, 24)::cidr
  `;
  await pool.query(sql.unsafe`
    WITH allocated AS (
      INSERT INTO ${t.allocation} (subnet_id, owner, strategy)
      SELECT id, 'bench-owner-' || (id % ${OWNERS}), 'sequential' FROM (${added}) AS s
      RETURNING id, subnet_id
    )
    INSERT INTO ${t.allocatedAddress} (subnet_id, address, ordinal, allocation_id)
    SELECT a.subnet_id, set_masklen(s.n + 254, 32), (s.n + 254) - '0.0.0.0'::inet, a.id FROM allocated a JOIN (${added}) AS s ON s.id = a.subnet_id
  `);
  await pool.query(sql.unsafe`
    INSERT INTO ${t.freeRange} (subnet_id, first_ordinal, last_ordinal)
    SELECT id, (n + 1) - '0.0.0.0'::inet, (n + 253) - '0.0.0.0'::inet FROM (${added}) AS s
  `);
}

/** The id of synthetic subnet g (the cursor of the page that starts after it). */
export async function subnetAt(pool: DatabasePool, t: Tables, base: string, g: number): Promise<string> {
  return String(await pool.oneFirst(sql.type(z.object({ id: z.number() }))`SELECT id FROM ${t.subnet} WHERE cidr = set_masklen(${base}::inet + ${g}::bigint * 256, 24)::cidr`));
}

import pg from "pg";
import { parseCidr } from "../../provider/core/address.js";
import { alignedBlocks } from "../../provider/core/prefixBlocks.js";
import { runsOf, subtractRanges, type ValueRange } from "../../provider/core/range.js";
import { parseSubnetLayout } from "../../provider/core/subnetLayout.js";

export interface IndexComparison {
  readonly storedRanges: string[];
  readonly expectedRanges: string[];
  /** Empty when the parent's free blocks are not built (they are built on the next child operation). */
  readonly storedBlocks: string[];
  readonly expectedBlocks: string[];
}

/**
 * A parent's two free-space indexes as stored, and as they must be from first principles:
 * free ranges = pools minus gateway/reserved minus its own addresses minus child blocks (none when
 * childrenOnly); free blocks = the aligned blocks of its CIDR minus gateway, reserved and children.
 */
export async function childIndexComparison(databaseUrl: string, subnetId: string, schema = "ipam"): Promise<IndexComparison> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows: [row] } = await client.query(
      `SELECT cidr::text AS cidr, host(gateway) AS gateway, pools, pools_explicit, reserved, children_only, free_blocks_built FROM ${schema}.subnet WHERE id = $1`,
      [Number(subnetId)],
    );
    const layout = parseSubnetLayout(row.cidr, { allocationPools: row.pools_explicit ? row.pools : null, gateway: row.gateway, reserved: row.reserved });
    const children = (await client.query(`SELECT cidr::text AS cidr FROM ${schema}.subnet WHERE parent_id = $1`, [Number(subnetId)])).rows.map(
      (child: { cidr: string }) => parseCidr(child.cidr, "cidr"),
    );
    const taken = (await client.query(`SELECT ordinal::text AS ordinal FROM ${schema}.allocated_address WHERE subnet_id = $1`, [Number(subnetId)])).rows.map(
      (address: { ordinal: string }) => BigInt(address.ordinal),
    );
    const storedRanges = (
      await client.query(`SELECT first_ordinal::text AS f, last_ordinal::text AS l FROM ${schema}.free_range WHERE subnet_id = $1 ORDER BY first_ordinal`, [Number(subnetId)])
    ).rows.map((range: { f: string; l: string }) => `${range.f}-${range.l}`);
    const expectedRanges = row.children_only ? [] : subtractRanges(layout.available, [...runsOf(taken), ...children]).map((r) => `${r.first}-${r.last}`);
    const storedBlocks = (
      await client.query(`SELECT first_ordinal::text AS f, last_ordinal::text AS l, prefix_length AS p FROM ${schema}.free_block WHERE subnet_id = $1 ORDER BY first_ordinal`, [
        Number(subnetId),
      ])
    ).rows.map((block: { f: string; l: string; p: number }) => `${block.f}-${block.l}/${block.p}`);
    const kept: ValueRange[] = [...(layout.gateway === null ? [] : [{ first: layout.gateway.value, last: layout.gateway.value }]), ...layout.reserved];
    const expectedBlocks = row.free_blocks_built
      ? subtractRanges([layout.cidr], [...kept, ...children])
          .flatMap((range) => alignedBlocks(layout.cidr.version, range))
          .map((block) => `${block.first}-${block.last}/${block.prefixLength}`)
      : [];
    return { storedRanges, expectedRanges, storedBlocks, expectedBlocks };
  } finally {
    await client.end();
  }
}

/** Sibling pairs that overlap, checked by PostgreSQL's own `&&`, and children whose network is not aligned to their size. */
export async function childOverlapAndAlignment(databaseUrl: string, parentId: string, schema = "ipam"): Promise<{ overlaps: number; misaligned: number }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const overlaps = await client.query(
      `SELECT count(*)::int AS n FROM ${schema}.subnet a JOIN ${schema}.subnet b ON b.parent_id = a.parent_id AND a.id < b.id AND a.cidr && b.cidr WHERE a.parent_id = $1`,
      [Number(parentId)],
    );
    const misaligned = await client.query(
      `SELECT count(*)::int AS n FROM ${schema}.subnet c JOIN ${schema}.subnet p ON p.id = c.parent_id
       WHERE c.parent_id = $1
         AND (mod(${schema}.inet_to_ordinal(network(c.cidr)), 2::numeric ^ (CASE family(c.cidr) WHEN 4 THEN 32 ELSE 128 END - masklen(c.cidr))) <> 0
              OR host(c.cidr) <> host(network(c.cidr)) OR NOT (p.cidr >> c.cidr))`,
      [Number(parentId)],
    );
    return { overlaps: overlaps.rows[0].n, misaligned: misaligned.rows[0].n };
  } finally {
    await client.end();
  }
}

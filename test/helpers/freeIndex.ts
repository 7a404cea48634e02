import pg from "pg";
import { parseSubnetLayout } from "../../provider/core/subnetLayout.js";
import { runsOf, subtractRanges } from "../../provider/core/range.js";
import type { Subnet } from "../../provider/core/types.js";

/**
 * The free-range index as stored, and as it must be: the subnet's available segments minus
 * every allocated ordinal, as maximal ranges. Equal arrays mean the index agrees exactly.
 */
export async function freeIndexComparison(databaseUrl: string, subnet: Subnet, schema = "ipam"): Promise<{ stored: string[]; expected: string[] }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const layout = parseSubnetLayout(subnet.cidr, {
      allocationPools: subnet.allocationPoolsExplicit ? subnet.allocationPools : null,
      gateway: subnet.gateway,
      reserved: subnet.reserved,
    });
    const taken = await client.query<{ ordinal: string }>(`SELECT ordinal::text FROM ${schema}.allocated_address WHERE subnet_id = $1`, [Number(subnet.id)]);
    const stored = await client.query<{ first: string; last: string }>(
      `SELECT first_ordinal::text AS first, last_ordinal::text AS last FROM ${schema}.free_range WHERE subnet_id = $1 ORDER BY first_ordinal`,
      [Number(subnet.id)],
    );
    const expected = subtractRanges(layout.available, runsOf(taken.rows.map((row) => BigInt(row.ordinal))));
    return {
      stored: stored.rows.map((row) => `${row.first}-${row.last}`),
      expected: expected.map((range) => `${range.first}-${range.last}`),
    };
  } finally {
    await client.end();
  }
}

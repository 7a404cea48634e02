import pg from "pg";
import { parseSubnetLayout } from "../../provider/core/subnetLayout.js";
import { parseCidr } from "../../provider/core/address.js";
import { alignedBlocks } from "../../provider/core/prefixBlocks.js";
import { runsOf, subtractRanges, type ValueRange } from "../../provider/core/range.js";

/**
 * What must hold in an IPAM schema whatever ran against it: checked in SQL over the stored rows,
 * independent of the code that wrote them. Each check returns up to 20 offending rows, described.
 */
export interface InvariantReport {
  /** Human-readable violations; empty when every invariant holds. */
  readonly violations: readonly string[];
  readonly subnets: number;
  readonly allocations: number;
  readonly addresses: number;
}

/** Every check selects `subnet_id` first, so a report can be scoped to some subnets. */
type Check = { readonly name: string; readonly sql: (s: string) => string };

const CHECKS: readonly Check[] = [
  {
    name: "address held twice",
    sql: (s) => `SELECT subnet_id, host(address) AS address, count(*) AS holders FROM ${s}.allocated_address
                 GROUP BY subnet_id, address HAVING count(*) > 1`,
  },
  {
    name: "ordinal held twice",
    sql: (s) => `SELECT subnet_id, ordinal::text, count(*) AS holders FROM ${s}.allocated_address
                 GROUP BY subnet_id, ordinal HAVING count(*) > 1`,
  },
  {
    name: "address does not match its ordinal",
    sql: (s) => `SELECT a.subnet_id, host(a.address) AS address, a.ordinal::text FROM ${s}.allocated_address a
                 JOIN ${s}.subnet sub ON sub.id = a.subnet_id
                 WHERE host(a.address) <> host(${s}.ordinal_to_inet(a.ordinal, family(sub.cidr)))`,
  },
  {
    name: "address outside its subnet",
    sql: (s) => `SELECT a.subnet_id, host(a.address) AS address, sub.cidr::text FROM ${s}.allocated_address a
                 JOIN ${s}.subnet sub ON sub.id = a.subnet_id WHERE NOT (a.address <<= sub.cidr)`,
  },
  {
    name: "network, broadcast or subnet-router anycast address allocated",
    sql: (s) => `SELECT a.subnet_id, host(a.address) AS address FROM ${s}.allocated_address a
                 JOIN ${s}.subnet sub ON sub.id = a.subnet_id
                 WHERE (family(sub.cidr) = 4 AND masklen(sub.cidr) < 31
                        AND host(a.address) IN (host(network(sub.cidr)), host(broadcast(sub.cidr))))
                    OR (family(sub.cidr) = 6 AND masklen(sub.cidr) < 127 AND host(a.address) = host(network(sub.cidr)))`,
  },
  {
    name: "gateway allocated",
    sql: (s) => `SELECT a.subnet_id, host(a.address) AS address FROM ${s}.allocated_address a
                 JOIN ${s}.subnet sub ON sub.id = a.subnet_id WHERE host(a.address) = host(sub.gateway)`,
  },
  {
    name: "reserved address allocated",
    sql: (s) => `SELECT a.subnet_id, host(a.address) AS address, r.entry AS reserved FROM ${s}.allocated_address a
                 JOIN ${s}.subnet sub ON sub.id = a.subnet_id
                 CROSS JOIN LATERAL jsonb_array_elements_text(sub.reserved) AS r(entry)
                 WHERE a.address <<= r.entry::inet`,
  },
  {
    name: "address in a different subnet than its allocation",
    sql: (s) => `SELECT a.subnet_id, al.subnet_id AS allocation_subnet, host(a.address) AS address FROM ${s}.allocated_address a
                 JOIN ${s}.allocation al ON al.id = a.allocation_id WHERE al.subnet_id <> a.subnet_id`,
  },
  {
    name: "allocation without addresses (half-written)",
    sql: (s) => `SELECT al.subnet_id, al.id::text, al.owner FROM ${s}.allocation al
                 WHERE NOT EXISTS (SELECT 1 FROM ${s}.allocated_address a WHERE a.allocation_id = al.id)`,
  },
  {
    name: "allocation without its audit event (half-written)",
    sql: (s) => `SELECT al.subnet_id, al.id::text FROM ${s}.allocation al
                 WHERE NOT EXISTS (SELECT 1 FROM ${s}.audit_event e WHERE e.allocation_id = al.id AND e.action = 'allocate')`,
  },
  {
    name: "specific allocation not holding exactly its requested address",
    sql: (s) => `SELECT al.subnet_id, al.id::text, host(al.requested_address) AS requested,
                        array_agg(host(a.address)) AS held FROM ${s}.allocation al
                 LEFT JOIN ${s}.allocated_address a ON a.allocation_id = al.id
                 WHERE al.strategy = 'specific' GROUP BY al.id
                 HAVING count(a.address) <> 1 OR bool_or(host(a.address) IS DISTINCT FROM host(al.requested_address))`,
  },
  {
    name: "free ranges overlapping or adjacent (not maximal)",
    sql: (s) => `SELECT subnet_id, first_ordinal::text, last_ordinal::text, previous_last::text FROM (
                   SELECT subnet_id, first_ordinal, last_ordinal,
                          lag(last_ordinal) OVER (PARTITION BY subnet_id ORDER BY first_ordinal) AS previous_last
                   FROM ${s}.free_range) f
                 WHERE previous_last >= first_ordinal - 1`,
  },
  {
    name: "child not strictly inside its parent, or in another namespace",
    sql: (s) => `SELECT c.parent_id AS subnet_id, c.id, c.cidr::text FROM ${s}.subnet c JOIN ${s}.subnet p ON p.id = c.parent_id
                 WHERE NOT (p.cidr >> c.cidr) OR p.namespace_id <> c.namespace_id`,
  },
  {
    name: "sibling children overlapping",
    sql: (s) => `SELECT a.parent_id AS subnet_id, a.cidr::text AS a, b.cidr::text AS b FROM ${s}.subnet a
                 JOIN ${s}.subnet b ON b.parent_id = a.parent_id AND a.id < b.id AND a.cidr && b.cidr`,
  },
  {
    name: "parent address inside one of its children",
    sql: (s) => `SELECT a.subnet_id, host(a.address) AS address, c.cidr::text AS child FROM ${s}.allocated_address a
                 JOIN ${s}.subnet c ON c.parent_id = a.subnet_id AND a.address <<= c.cidr`,
  },
  {
    name: "address allocated in a children-only subnet",
    sql: (s) => `SELECT a.subnet_id, host(a.address) AS address FROM ${s}.allocated_address a
                 JOIN ${s}.subnet sub ON sub.id = a.subnet_id WHERE sub.children_only`,
  },
  {
    name: "allocated address listed as free",
    sql: (s) => `SELECT a.subnet_id, host(a.address) AS address FROM ${s}.allocated_address a
                 JOIN ${s}.free_range f ON f.subnet_id = a.subnet_id AND a.ordinal BETWEEN f.first_ordinal AND f.last_ordinal`,
  },
];

interface SubnetState {
  id: number;
  cidr: string;
  gateway: string | null;
  pools: { start: string; end: string }[];
  pools_explicit: boolean;
  reserved: string[];
  children_only: boolean;
  free_blocks_built: boolean;
}

/**
 * Check every invariant of the IPAM schema in `databaseUrl`, optionally only for some subnets.
 * The free-space index must equal each subnet's available segments (pools minus gateway and
 * reserved, derived from the stored row by the core) minus its allocated ordinals and its children's
 * blocks, as maximal ranges (none for a children-only subnet); once built, its free blocks must be
 * the maximal aligned blocks of its CIDR minus gateway, reserved and children.
 */
export async function checkInvariants(databaseUrl: string, options: { schema?: string; subnetIds?: readonly string[] } = {}): Promise<InvariantReport> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const s = client.escapeIdentifier(options.schema ?? "ipam");
    const only = options.subnetIds === undefined ? null : options.subnetIds.map(Number);
    const violations: string[] = [];
    for (const check of CHECKS) {
      const { rows } = await client.query<Record<string, unknown>>(
        `SELECT * FROM (${check.sql(s)}) v WHERE $1::int[] IS NULL OR v.subnet_id = ANY($1) LIMIT 20`,
        [only],
      );
      for (const row of rows) violations.push(`${check.name}: ${JSON.stringify(row)}`);
    }
    const subnets = (
      await client.query<SubnetState>(
        `SELECT id, cidr::text, host(gateway) AS gateway, pools, pools_explicit, reserved, children_only, free_blocks_built FROM ${s}.subnet
         WHERE $1::int[] IS NULL OR id = ANY($1) ORDER BY id`,
        [only],
      )
    ).rows;
    for (const subnet of subnets) violations.push(...(await freeIndexViolations(client, s, subnet)));
    const counts = (
      await client.query<{ allocations: number; addresses: number }>(
        `SELECT (SELECT count(*)::int FROM ${s}.allocation WHERE $1::int[] IS NULL OR subnet_id = ANY($1)) AS allocations,
                (SELECT count(*)::int FROM ${s}.allocated_address WHERE $1::int[] IS NULL OR subnet_id = ANY($1)) AS addresses`,
        [only],
      )
    ).rows[0]!;
    return { violations: violations.slice(0, 50), subnets: subnets.length, ...counts };
  } finally {
    await client.end();
  }
}

async function freeIndexViolations(client: pg.Client, s: string, subnet: SubnetState): Promise<string[]> {
  const layout = parseSubnetLayout(subnet.cidr, {
    allocationPools: subnet.pools_explicit ? subnet.pools : null,
    gateway: subnet.gateway,
    reserved: subnet.reserved,
  });
  const taken = await client.query<{ ordinal: string }>(`SELECT ordinal::text FROM ${s}.allocated_address WHERE subnet_id = $1`, [subnet.id]);
  const stored = await client.query<{ first: string; last: string }>(
    `SELECT first_ordinal::text AS first, last_ordinal::text AS last FROM ${s}.free_range WHERE subnet_id = $1 ORDER BY first_ordinal`,
    [subnet.id],
  );
  const children = (await client.query<{ cidr: string }>(`SELECT cidr::text FROM ${s}.subnet WHERE parent_id = $1`, [subnet.id])).rows.map((row) => parseCidr(row.cidr, "cidr"));
  const expected = (subnet.children_only ? [] : subtractRanges(layout.available, [...runsOf(taken.rows.map((row) => BigInt(row.ordinal))), ...children]))
    .map((range) => `${range.first}-${range.last}`)
    .join(",");
  const actual = stored.rows.map((row) => `${row.first}-${row.last}`).join(",");
  const violations = actual === expected ? [] : [`free-range index of subnet ${subnet.id} (${subnet.cidr}) disagrees with its allocations: stored [${actual}] expected [${expected}]`];
  if (!subnet.free_blocks_built) return violations;
  const kept: ValueRange[] = [...(layout.gateway === null ? [] : [{ first: layout.gateway.value, last: layout.gateway.value }]), ...layout.reserved];
  const expectedBlocks = subtractRanges([layout.cidr], [...kept, ...children])
    .flatMap((range) => alignedBlocks(layout.cidr.version, range))
    .map((block) => `${block.first}/${block.prefixLength}`)
    .join(",");
  const blocks = await client.query<{ first: string; length: number }>(
    `SELECT first_ordinal::text AS first, prefix_length AS length FROM ${s}.free_block WHERE subnet_id = $1 ORDER BY first_ordinal`,
    [subnet.id],
  );
  const actualBlocks = blocks.rows.map((row) => `${row.first}/${row.length}`).join(",");
  if (actualBlocks !== expectedBlocks) violations.push(`free blocks of subnet ${subnet.id} (${subnet.cidr}) disagree with its children: stored [${actualBlocks}] expected [${expectedBlocks}]`);
  return violations;
}

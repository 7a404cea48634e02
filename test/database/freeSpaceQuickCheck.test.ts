import { expect, it } from "vitest";
import { useTestIpamWithAdmin } from "../helpers/openTestIpam.js";

/**
 * The free-space guards (0010) ask free_space_allowed (0020, PL/pgSQL, plans kept) before
 * free_space_problem (SQL, planned on every call on PostgreSQL 15), and return_released takes an
 * address back only when free_space_allowed allows it. So free_space_allowed must never allow a row
 * that free_space_problem refuses, and, to keep the guards' cost down, should allow what it allows.
 * Compared on every pair of interesting ordinals (each bound of a pool, the network, broadcast,
 * gateway and reserved addresses, and their neighbours) of subnets of both families and odd sizes.
 */
const t = useTestIpamWithAdmin("quickcheck");

it("free_space_allowed agrees with free_space_problem on every interesting row, for free ranges and free blocks", async () => {
  const subnets = await Promise.all([
    t.ipam.createSubnet({
      cidr: "10.210.0.0/26",
      namespace: "quick",
      gateway: "10.210.0.1",
      reserved: ["10.210.0.16/30", "10.210.0.40"],
      allocationPools: [
        { start: "10.210.0.2", end: "10.210.0.30" },
        { start: "10.210.0.33", end: "10.210.0.62" },
      ],
    }),
    t.ipam.createSubnet({ cidr: "10.211.0.0/31", namespace: "quick" }),
    t.ipam.createSubnet({ cidr: "10.212.0.7/32", namespace: "quick" }),
    t.ipam.createSubnet({ cidr: "10.213.0.0/28", namespace: "quick", childrenOnly: true, gateway: "10.213.0.1" }),
    t.ipam.createSubnet({ cidr: "fd00:210::/120", namespace: "quick", gateway: "fd00:210::ff", reserved: ["fd00:210::10/124"] }),
    t.ipam.createSubnet({ cidr: "fd00:211::/127", namespace: "quick" }),
  ]);
  const { rows } = await t.admin.query<{ index: string; subnet_id: number; lo: string; hi: string; allowed: boolean; problem: string | null }>(
    `WITH s AS (SELECT * FROM ipam.subnet WHERE id = ANY ($1::int[])),
     points AS (
       SELECT s.id, p.o + d AS o FROM s CROSS JOIN LATERAL (
         SELECT ipam.inet_to_ordinal(network(s.cidr)) UNION SELECT ipam.inet_to_ordinal(broadcast(s.cidr))
         UNION SELECT ipam.inet_to_ordinal(s.gateway) WHERE s.gateway IS NOT NULL
         UNION SELECT ipam.inet_to_ordinal((p->>'start')::inet) FROM jsonb_array_elements(s.pools) p
         UNION SELECT ipam.inet_to_ordinal((p->>'end')::inet) FROM jsonb_array_elements(s.pools) p
         UNION SELECT ipam.inet_to_ordinal(network(r::cidr)) FROM jsonb_array_elements_text(s.reserved) r
         UNION SELECT ipam.inet_to_ordinal(broadcast(r::cidr)) FROM jsonb_array_elements_text(s.reserved) r
       ) AS p(o) CROSS JOIN (VALUES (-1), (0), (1)) AS n(d)
     ),
     pairs AS (SELECT DISTINCT a.id, a.o AS lo, b.o AS hi FROM points a JOIN points b ON b.id = a.id AND b.o >= a.o)
     SELECT i.index, p.id AS subnet_id, p.lo::text, p.hi::text,
            ipam.free_space_allowed(i.index, s, p.lo, p.hi) AS allowed,
            ipam.free_space_problem(i.index, ARRAY[p.id], ARRAY[p.lo], ARRAY[p.hi]) AS problem
     FROM pairs p JOIN s ON s.id = p.id CROSS JOIN (VALUES ('free_range'), ('free_block')) AS i(index)`,
    [subnets.map((subnet) => Number(subnet.id))],
  );
  const disagreements = rows.filter((row) => row.allowed !== (row.problem === null));
  expect(disagreements).toEqual([]);
  // Both answers occur for both indexes, in every subnet that has any allocatable row.
  for (const index of ["free_range", "free_block"]) {
    const mine = rows.filter((row) => row.index === index);
    expect(mine.some((row) => row.allowed)).toBe(true);
    expect(mine.some((row) => !row.allowed)).toBe(true);
  }
  expect(rows.length).toBeGreaterThan(500);
});

import { describe, expect, it } from "vitest";
import { useTestIpamWithAdmin } from "../helpers/openTestIpam.js";

// Issue 25: 0010's guard on added addresses (guard_allocated_addresses) looked up each added row's
// kept addresses (network, broadcast, gateway, reserved) with a correlated EXISTS over a CTE of
// every subnet's kept addresses: rows × subnets per statement (3,000 subnets: 12.4 s; an import's
// window spans up to 2,000). 0017 joins them on the subnet. The work is read from the guard's own
// plan (auto_explain, sent to this session as notices), not from a clock.

const SUBNETS = 400;
const context = useTestIpamWithAdmin("addressguard");

/** The ith /28 of 10.81.0.0/16 as its four octets' text, and its gateway and reserved addresses. */
function block(i: number) {
  const base = `10.81.${Math.floor(i / 16)}.${(i % 16) * 16}`;
  const at = (offset: number) => `10.81.${Math.floor(i / 16)}.${(i % 16) * 16 + offset}`;
  return { cidr: `${base}/28`, gateway: at(1), reserved: [at(2)], free: at(5) };
}

async function createSubnets(): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < SUBNETS; start += 20) {
    const made = await Promise.all(
      Array.from({ length: Math.min(20, SUBNETS - start) }, (_, k) => {
        const { cidr, gateway, reserved } = block(start + k);
        return context.ipam.createSubnet({ cidr, gateway, reserved, namespace: "guardwork" });
      }),
    );
    ids.push(...made.map((subnet) => subnet.id));
  }
  return ids;
}

/**
 * In a transaction rolled back afterwards: one allocation per subnet, then one statement adding an
 * address in each (the address `pick(i)` of the ith subnet). Returns the guard's plan, with actual
 * figures, and the error the statement raised, if any.
 */
async function addAcrossSubnets(ids: string[], pick: (i: number) => string): Promise<{ plan: string; error: Error | null }> {
  const admin = context.admin;
  const notices: string[] = [];
  const listen = (notice: { message?: string }) => notices.push(notice.message ?? "");
  admin.on("notice", listen);
  let error: Error | null = null;
  try {
    await admin.query("BEGIN");
    await admin.query("LOAD 'auto_explain'");
    for (const setting of ["log_level = notice", "log_min_duration = 0", "log_analyze = on", "log_nested_statements = on"]) {
      await admin.query(`SET LOCAL auto_explain.${setting}`);
    }
    const { rows } = await admin.query<{ id: string; subnet_id: number }>(
      "INSERT INTO ipam.allocation (subnet_id, owner, strategy) SELECT unnest($1::int[]), 'guardwork', 'specific' RETURNING id, subnet_id",
      [ids.map(Number)],
    );
    const allocationOf = new Map(rows.map((row) => [String(row.subnet_id), row.id]));
    try {
      await admin.query(
        `INSERT INTO ipam.allocated_address (subnet_id, address, ordinal, allocation_id)
         SELECT s, a, ipam.inet_to_ordinal(a), al FROM unnest($1::int[], $2::inet[], $3::bigint[]) AS t(s, a, al)`,
        [ids.map(Number), ids.map((_, i) => pick(i)), ids.map((id) => allocationOf.get(id))],
      );
    } catch (caught) {
      error = caught as Error;
    }
  } finally {
    await admin.query("ROLLBACK");
    admin.off("notice", listen);
  }
  const plan = notices.find((text) => text.includes("offender")) ?? "";
  return { plan, error };
}

/** Rows a plan's nodes produced or filtered out, over all their loops: the work the statement did. */
function rowsTouched(plan: string): number {
  let total = 0;
  let loops = 1;
  for (const line of plan.split("\n")) {
    const node = /actual time=[\d.]+\.\.[\d.]+ rows=(\d+) loops=(\d+)/.exec(line);
    if (node) {
      loops = Number(node[2]);
      total += Number(node[1]) * loops;
    }
    const filtered = /Rows Removed by (?:Filter|Join Filter): (\d+)/.exec(line);
    if (filtered) total += Number(filtered[1]) * loops;
  }
  return total;
}

describe("the guard on added addresses, one statement across many subnets (issue 25)", () => {
  it("does work in proportion to rows plus subnets, not their product", async () => {
    const ids = await createSubnets();
    const { plan, error } = await addAcrossSubnets(ids, (i) => block(i).free);
    expect(error).toBeNull();
    expect(plan).toContain("offender");
    // 400 rows and 400 subnets with 4 kept addresses each: hash joins touch ~29 rows a subnet
    // (11,600 on PostgreSQL 15); the per-row lookup touched 400 × 1,600 (644,000).
    expect(rowsTouched(plan)).toBeLessThan(50 * SUBNETS);
  });

  it("still refuses a kept address anywhere in the statement, in the same words", async () => {
    const ids = (await context.admin.query<{ id: number }>("SELECT id FROM ipam.subnet WHERE cidr <<= '10.81.0.0/16' ORDER BY cidr")).rows.map((r) => String(r.id));
    expect(ids).toHaveLength(SUBNETS);
    const gatewayAt = 237;
    const reservedAt = 311;
    const { error } = await addAcrossSubnets(ids, (i) => (i === gatewayAt ? block(i).gateway : block(i).free));
    expect(error?.message).toBe(`address ${block(gatewayAt).gateway} is its subnet's gateway (subnet ${ids[gatewayAt]})`);
    const reserved = await addAcrossSubnets(ids, (i) => (i === reservedAt ? block(i).reserved[0]! : block(i).free));
    expect(reserved.error?.message).toBe(`address ${block(reservedAt).reserved[0]} is reserved in its subnet (subnet ${ids[reservedAt]})`);
    const network = await addAcrossSubnets(ids, (i) => (i === 5 ? block(i).cidr.replace("/28", "") : block(i).free));
    expect(network.error?.message).toBe(`address ${block(5).cidr.replace("/28", "")} is its subnet's network address (subnet ${ids[5]})`);
    const count = await context.admin.query("SELECT count(*)::int AS n FROM ipam.allocated_address WHERE subnet_id = ANY($1::int[])", [ids.map(Number)]);
    expect(count.rows[0].n).toBe(0);
  });
});

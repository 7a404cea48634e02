import { sql } from "slonik";
import { z } from "zod";
import { Ipam } from "../../provider/store/Ipam.js";
import { tablesFor } from "../../provider/store/database/tables.js";
import type { BenchContext } from "../benchContext.js";
import { latency, ratio, round, timed, type Latency } from "../measure.js";
import { check, type ScenarioResult } from "../scenarioResult.js";
import { growSubnets } from "../syntheticSubnets.js";

/** A schema of its own, so the parent holds exactly the children counted. */
const SCHEMA = "ipam_bench_tree";
const BASE = "12.0.0.0";
const SMALL = 100;
/** A page of the tree: what `limit` defaults to (and at most is). */
const SHOWN = 1_000;
/** What both sizes show in full: the same output, so any difference is what the hidden children cost. */
const FEW = 100;

interface TreeTimes {
  readonly full: Latency;
  readonly few: Latency;
  readonly shown: number;
}

async function treeTimes(ipam: Ipam, rootId: string, samples: number): Promise<TreeTimes> {
  const { reports } = await ipam.usageTreeReport(rootId);
  const full = await latency(samples, () => ipam.usageTreeReport(rootId));
  const few = await latency(samples, () => ipam.usageTreeReport(rootId, { limit: FEW }));
  return { full, few, shown: reports.length };
}

/**
 * 12. `usageTreeReport` of a parent with 100 and with 10k children (2k with --quick). It shows at
 * most 1,000 subnets (the default and largest `limit`; `truncated` says so), so the report grows
 * with the children only up to a page: the target is time per subnet shown (≤ 2), plus the same
 * 100-subnet report (`limit: 100`) at both sizes (≤ 2), which is what the 9,900 unshown children
 * cost the tree walk.
 */
export async function usageTreeAtScale(context: BenchContext): Promise<ScenarioResult> {
  const large = context.quick ? 2_000 : 10_000;
  const samples = context.quick ? 3 : 9;
  const ipam = await Ipam.open({ databaseUrl: context.url, schema: SCHEMA, maxConnections: 2 });
  const t = tablesFor(SCHEMA);
  const { pool } = context;
  try {
    const root = await ipam.createSubnet({ cidr: `${BASE}/8`, namespace: "bench-tree", childrenOnly: true, description: "bench: usage tree" });
    const namespaceId = await pool.oneFirst(sql.type(z.object({ namespace_id: z.number() }))`SELECT namespace_id FROM ${t.subnet} WHERE id = ${Number(root.id)}`);
    const run = { namespaceId, parentId: Number(root.id), base: BASE };
    context.log(`scenario 12: usage tree of ${SMALL} children`);
    await growSubnets(pool, t, run, 0, SMALL);
    const small = await treeTimes(ipam, root.id, samples);
    context.log(`scenario 12: growing to ${large.toLocaleString("en-US")} children`);
    const grown = await timed(() => growSubnets(pool, t, run, SMALL, large));
    const big = await treeTimes(ipam, root.id, samples);
    const perShown = (times: TreeTimes) => round(times.full.p50Ms / times.shown, 3);
    const sizes = `${SMALL} vs ${large.toLocaleString("en-US")} children`;
    return {
      id: "12-usage-tree-at-scale",
      title: `usageTreeReport of a parent with ${sizes} (at most ${SHOWN} subnets shown)`,
      figures: {
        smallChildren: SMALL,
        largeChildren: large,
        secondsToGrow: round(grown.ms / 1000, 1),
        shownSmall: small.shown,
        shownLarge: big.shown,
        treeP50SmallMs: small.full.p50Ms,
        treeP50LargeMs: big.full.p50Ms,
        msPerShownSmall: perShown(small),
        msPerShownLarge: perShown(big),
        firstHundredP50SmallMs: small.few.p50Ms,
        firstHundredP50LargeMs: big.few.p50Ms,
      },
      checks: [
        check(`usageTreeReport time per subnet shown, ${sizes} (ratio)`, ratio(perShown(big), perShown(small)), "atMost", 2, () => `${perShown(big)} ms vs ${perShown(small)} ms per subnet (${big.shown} vs ${small.shown} shown)`),
        check(`usageTreeReport limit ${FEW} p50, ${sizes} (ratio)`, ratio(big.few.p50Ms, small.few.p50Ms), "atMost", 2, () => `${big.few.p50Ms} ms vs ${small.few.p50Ms} ms`),
      ],
    };
  } finally {
    await ipam.close();
  }
}

import { sql } from "slonik";
import { z } from "zod";
import { serveApp } from "../../provider/cli/serve/serveApp.js";
import { Ipam } from "../../provider/store/Ipam.js";
import { tablesFor } from "../../provider/store/database/index.js";
import type { BenchContext } from "../benchContext.js";
import { latency, ratio, round, timed, type Latency } from "../measure.js";
import { check, type ScenarioResult } from "../scenarioResult.js";
import { growSubnets, subnetAt } from "../syntheticSubnets.js";

/** A schema of its own, so /metrics reports exactly the subnets counted. */
const SCHEMA = "ipam_bench_web";
const NAMESPACE = "bench-web";
const BASE = "12.0.0.0";

/**
 * 13. `ipam serve`'s subnet tree page (first page of 100, and a deep page after 90% of the
 * namespace) and `/metrics` at 1k and 100k subnets (5k with --quick), requested from the real app
 * in-process (routing, database reads, rendering; no socket). The tree is keyset-paged, so a page
 * costs the same at any size (target ≤ 2×). /metrics reports every subnet (6 series each) from one
 * grouped read, so its output and time grow with the count: flat per subnet is ≤ 2 × (100k / 1k).
 */
export async function webViewAtScale(context: BenchContext): Promise<ScenarioResult> {
  const small = 1_000;
  const large = context.quick ? 5_000 : 100_000;
  const samples = context.quick ? 3 : 15;
  const metricSamples = context.quick ? 2 : 3;
  const ipam = await Ipam.open({ databaseUrl: context.url, schema: SCHEMA, maxConnections: 4 });
  const t = tablesFor(SCHEMA);
  const { pool } = context;
  const { app } = serveApp(ipam);
  const get = async (path: string) => {
    const response = await app.request(path);
    const body = await response.text();
    if (response.status !== 200) throw new Error(`scenario 14: GET ${path} answered ${response.status}: ${body.slice(0, 200)}`);
    return body;
  };
  const tree = (after?: string) => latency(samples, () => get(`/?namespace=${NAMESPACE}${after === undefined ? "" : `&after=${after}`}`));
  const metrics = () => latency(metricSamples, () => get("/metrics"));
  try {
    const first = await ipam.createSubnet({ cidr: `${BASE}/24`, namespace: NAMESPACE, description: "bench: web view" });
    const namespaceId = await pool.oneFirst(sql.type(z.object({ namespace_id: z.number() }))`SELECT namespace_id FROM ${t.subnet} WHERE id = ${Number(first.id)}`);
    context.log(`scenario 14: tree page and /metrics at ${small.toLocaleString("en-US")} subnets`);
    await growSubnets(pool, t, { namespaceId, parentId: null, base: BASE }, 1, small);
    const treeSmall = await tree();
    const metricsSmall = await metrics();
    context.log(`scenario 14: growing to ${large.toLocaleString("en-US")} subnets`);
    const grown = await timed(() => growSubnets(pool, t, { namespaceId, parentId: null, base: BASE }, small, large));
    const treeLarge = await tree();
    const treeDeep = await tree(await subnetAt(pool, t, BASE, Math.floor(large * 0.9)));
    const metricsLarge = await metrics();
    const series = (await get("/metrics")).split("\n").filter((line) => line.startsWith("ipam_subnet_free_addresses{")).length;
    if (series !== large) throw new Error(`scenario 14: /metrics reported ${series} subnets, not ${large}`);
    const sizes = `${small.toLocaleString("en-US")} vs ${large.toLocaleString("en-US")} subnets`;
    const ms = (l: Latency) => `${l.p50Ms} ms`;
    const perSubnet = (l: Latency, count: number) => l.p50Ms / count;
    return {
      id: "14-web-view-at-scale",
      title: `ipam serve: tree page (first and deep) and /metrics at ${sizes}`,
      figures: {
        smallSubnets: small,
        largeSubnets: large,
        secondsToGrow: round(grown.ms / 1000, 1),
        treePageP50SmallMs: treeSmall.p50Ms,
        treeFirstPageP50LargeMs: treeLarge.p50Ms,
        treeDeepPageP50LargeMs: treeDeep.p50Ms,
        metricsP50SmallMs: metricsSmall.p50Ms,
        metricsP50LargeMs: metricsLarge.p50Ms,
      },
      checks: [
        check(`tree page p50, deep page at ${sizes} (ratio)`, ratio(treeDeep.p50Ms, treeSmall.p50Ms), "atMost", 2, () => `${ms(treeDeep)} vs ${ms(treeSmall)}`),
        check(`tree page p50, first page at ${sizes} (ratio)`, ratio(treeLarge.p50Ms, treeSmall.p50Ms), "atMost", 2, () => `${ms(treeLarge)} vs ${ms(treeSmall)}`),
        check(`/metrics p50 per subnet at ${sizes} (ratio)`, ratio(perSubnet(metricsLarge, large), perSubnet(metricsSmall, small)), "atMost", 2, () => `${ms(metricsLarge)} vs ${ms(metricsSmall)}`),
        check(
          `/metrics p50 at ${sizes} (ratio; the issue's target of 2×, for an answer ${large / small}× longer)`,
          ratio(metricsLarge.p50Ms, metricsSmall.p50Ms),
          "atMost",
          2,
          () => `${ms(metricsLarge)} vs ${ms(metricsSmall)}: /metrics lists every subnet (${large / small}× the series), so its time grows with them; one grouped read, not one per subnet`,
        ),
      ],
    };
  } finally {
    await ipam.close();
  }
}

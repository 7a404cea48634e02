import { sql } from "slonik";
import { z } from "zod";
import { Ipam } from "../../provider/store/Ipam.js";
import { tablesFor } from "../../provider/store/database/tables.js";
import type { BenchContext } from "../benchContext.js";
import { runCli } from "../cliProcess.js";
import { latency, ratio, round, timed, type Latency } from "../measure.js";
import { check, type ScenarioResult } from "../scenarioResult.js";
import { growSubnets, subnetAt } from "../syntheticSubnets.js";

/** A schema of its own, so the namespace holds exactly the subnets counted. */
const SCHEMA = "ipam_bench_usage";
const NAMESPACE = "bench-usage";
const PAGE = 1_000;
const BASE = "11.0.0.0";

interface PageTimes {
  readonly list: Latency;
  readonly usage: Latency;
}

async function pageTimes(ipam: Ipam, after: string | undefined, samples: number): Promise<PageTimes> {
  const page = { limit: PAGE, ...(after === undefined ? {} : { after }) };
  const list = await latency(samples * 4, () => ipam.listSubnetPage({ namespace: NAMESPACE }, page));
  const usage = await latency(samples, () => ipam.usagePage({ namespace: NAMESPACE }, page));
  return { list, usage };
}

/**
 * 10. `listSubnetPage` and `usagePage` (pages of 1,000 subnets) at the first page of a 1k-subnet
 * namespace and the first and a deep page (a full page after 90%) of a 100k one (5k with --quick): keyset
 * pages, so each costs the same however deep and however big the namespace. Then `ipam usage
 * --namespace` (the real CLI, which walks those pages) at 1k and at 100k: it reports every subnet,
 * so its time grows with the count; flat per subnet is a ratio of at most 2 × (100k / 1k).
 */
export async function usageAtScale(context: BenchContext): Promise<ScenarioResult> {
  const small = 1_000;
  const large = context.quick ? 5_000 : 100_000;
  const samples = context.quick ? 2 : 7;
  const ipam = await Ipam.open({ databaseUrl: context.url, schema: SCHEMA, maxConnections: 2 });
  const t = tablesFor(SCHEMA);
  const { pool } = context;
  const cliUsage = () => runCli(context.url, ["--schema", SCHEMA, "usage", "--namespace", NAMESPACE, "--json"]);
  try {
    const first = await ipam.createSubnet({ cidr: `${BASE}/24`, namespace: NAMESPACE, description: "bench: usage" });
    const namespaceId = await pool.oneFirst(sql.type(z.object({ namespace_id: z.number() }))`SELECT namespace_id FROM ${t.subnet} WHERE id = ${Number(first.id)}`);
    context.log(`scenario 10: usage and subnet pages at ${small.toLocaleString("en-US")} subnets`);
    await growSubnets(pool, t, { namespaceId, parentId: null, base: BASE }, 1, small);
    const atSmall = await pageTimes(ipam, undefined, samples);
    const cliSmall = await cliUsage();
    context.log(`scenario 10: growing the namespace to ${large.toLocaleString("en-US")} subnets`);
    const grown = await timed(() => growSubnets(pool, t, { namespaceId, parentId: null, base: BASE }, small, large));
    const firstLarge = await pageTimes(ipam, undefined, samples);
    const deepLarge = await pageTimes(ipam, await subnetAt(pool, t, BASE, Math.min(Math.floor(large * 0.9), large - PAGE - 1)), samples);
    context.log(`scenario 10: ipam usage --namespace at ${large.toLocaleString("en-US")} subnets`);
    const cliLarge = await cliUsage();
    const shown = (JSON.parse(cliLarge.stdout) as { subnets: unknown[] }).subnets.length;
    if (shown !== large) throw new Error(`scenario 10: ipam usage showed ${shown} subnets, not ${large}`);
    context.log(`scenario 10: ipam usage --namespace (text) at ${large.toLocaleString("en-US")} subnets`);
    const cliLargeText = await runCli(context.url, ["--schema", SCHEMA, "usage", "--namespace", NAMESPACE]);
    const sizes = `${small.toLocaleString("en-US")} vs ${large.toLocaleString("en-US")} subnets`;
    const perSubnetBound = round((2 * large) / small, 1);
    const ms = (l: Latency) => `${l.p50Ms} ms`;
    return {
      id: "10-usage-and-paging-at-scale",
      title: `pages of ${PAGE} subnets (listSubnetPage, usagePage) first vs deep and at ${sizes}; ipam usage --namespace at ${sizes}`,
      figures: {
        smallSubnets: small,
        largeSubnets: large,
        secondsToGrow: round(grown.ms / 1000, 1),
        listPageP50SmallMs: atSmall.list.p50Ms,
        listFirstPageP50LargeMs: firstLarge.list.p50Ms,
        listDeepPageP50LargeMs: deepLarge.list.p50Ms,
        usagePageP50SmallMs: atSmall.usage.p50Ms,
        usageFirstPageP50LargeMs: firstLarge.usage.p50Ms,
        usageDeepPageP50LargeMs: deepLarge.usage.p50Ms,
        cliUsageSmallSeconds: round(cliSmall.ms / 1000, 2),
        cliUsageLargeSeconds: round(cliLarge.ms / 1000, 2),
        cliUsageLargePeakRssMiB: round(cliLarge.peakRssMiB, 1),
        cliUsageLargeTextSeconds: round(cliLargeText.ms / 1000, 2),
        cliUsageLargeTextPeakRssMiB: round(cliLargeText.peakRssMiB, 1),
      },
      checks: [
        check(`listSubnetPage p50, deep vs first page at ${large.toLocaleString("en-US")} (ratio)`, ratio(deepLarge.list.p50Ms, firstLarge.list.p50Ms), "atMost", 2, () => `${ms(deepLarge.list)} vs ${ms(firstLarge.list)}`),
        check(`listSubnetPage p50, deep page at ${sizes} (ratio)`, ratio(deepLarge.list.p50Ms, atSmall.list.p50Ms), "atMost", 2, () => `${ms(deepLarge.list)} vs ${ms(atSmall.list)}`),
        check(`usagePage p50, deep vs first page at ${large.toLocaleString("en-US")} (ratio)`, ratio(deepLarge.usage.p50Ms, firstLarge.usage.p50Ms), "atMost", 2, () => `${ms(deepLarge.usage)} vs ${ms(firstLarge.usage)}`),
        check(`usagePage p50, deep page at ${sizes} (ratio)`, ratio(deepLarge.usage.p50Ms, atSmall.usage.p50Ms), "atMost", 2, () => `${ms(deepLarge.usage)} vs ${ms(atSmall.usage)}`),
        check(`ipam usage --namespace, ${sizes} (ratio; flat per subnet: ≤ 2 × ${large / small})`, ratio(cliLarge.ms, cliSmall.ms), "atMost", perSubnetBound, () => `${round(cliLarge.ms / 1000, 2)} s vs ${round(cliSmall.ms / 1000, 2)} s`),
        // Issue 25: the CLI streams pages in tree order instead of holding every report.
        check(`ipam usage --json at ${large.toLocaleString("en-US")} subnets, peak RSS MiB`, cliLarge.peakRssMiB, "atMost", 300, () => `${round(cliLarge.peakRssMiB, 1)} MiB`),
        check(`ipam usage (text) at ${large.toLocaleString("en-US")} subnets, peak RSS MiB`, cliLargeText.peakRssMiB, "atMost", 300, () => `${round(cliLargeText.peakRssMiB, 1)} MiB`),
      ],
    };
  } finally {
    await ipam.close();
  }
}

import type { Hono } from "hono";
import { collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { SubnetMetric } from "../../../store/Ipam.js";
import { heldAddresses } from "../heldAddresses.js";
import type { ServeData } from "../serveData.js";

const SUBNET_LABELS = ["namespace", "cidr", "id"] as const;

/** Per-subnet gauges: name, help, and the figure of a SubnetMetric it reports. */
const SUBNET_GAUGES: readonly [string, string, (metric: SubnetMetric) => bigint | string | number][] = [
  ["ipam_subnet_addresses", "Addresses in the subnet's CIDR", (m) => m.total],
  ["ipam_subnet_pool_addresses", "Addresses in the subnet's allocation pools", (m) => m.poolSize],
  ["ipam_subnet_used_addresses", "Addresses allocated to owners (inside or outside the pools)", (m) => m.allocated],
  ["ipam_subnet_held_addresses", "Released addresses in hold-down, not yet free", (m) => heldAddresses(m)],
  ["ipam_subnet_free_addresses", "Pool addresses free to allocate", (m) => m.free],
  ["ipam_subnet_children", "Direct child subnets", (m) => m.childPrefixes],
];

/**
 * `/metrics` in the Prometheus text format (prom-client writes it): per subnet the gauges above,
 * from ONE grouped read per scrape; whether that read worked and how long it took; the process's
 * own metrics. A failed read still answers (ipam_database_up 0) so alerts can fire on it.
 * `?namespace=NS` scrapes one namespace (to split a very large installation over several scrapes).
 */
export function registerMetricsRoute(app: Hono, data: ServeData): void {
  const processRegistry = new Registry();
  collectDefaultMetrics({ register: processRegistry });
  app.get("/metrics", async (c) => {
    const registry = new Registry();
    const gauges = SUBNET_GAUGES.map(([name, help, value]) => ({ gauge: new Gauge({ name, help, labelNames: SUBNET_LABELS, registers: [registry] }), value }));
    const up = new Gauge({ name: "ipam_database_up", help: "1 when the last scrape's database read succeeded", registers: [registry] });
    const seconds = new Gauge({ name: "ipam_database_read_seconds", help: "Time the scrape's grouped database read took", registers: [registry] });
    const subnets = new Gauge({ name: "ipam_subnets", help: "Subnets reported", registers: [registry] });
    const started = process.hrtime.bigint();
    let metrics: SubnetMetric[] = [];
    try {
      const namespace = c.req.query("namespace");
      metrics = await data.subnetMetrics(namespace === undefined || namespace === "" ? {} : { namespace });
      up.set(1);
    } catch {
      up.set(0);
    }
    seconds.set(Number(process.hrtime.bigint() - started) / 1e9);
    subnets.set(metrics.length);
    for (const metric of metrics) {
      const labels = { namespace: metric.namespace, cidr: metric.cidr, id: metric.subnetId };
      for (const { gauge, value } of gauges) gauge.set(labels, Number(value(metric)));
    }
    const text = await Registry.merge([registry, processRegistry]).metrics();
    return c.body(text, 200, { "Content-Type": registry.contentType });
  });
}

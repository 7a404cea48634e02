import type { Ipam } from "../../provider/store/index.js";
import { runWorkersTogether, workerScript } from "./workerProcess.js";

type Pools = { start: string; end: string }[] | null;

/** What the storm workers need to know about a subnet: where to ask for specific addresses, which pool sets to switch between. */
export interface StormSubnet {
  readonly id: string;
  readonly specific: readonly string[];
  readonly poolSets: readonly Pools[];
}

export interface WorkerStormReport {
  readonly ops: Record<string, number>;
  readonly errors: Record<string, number>;
  readonly unexpected: string[];
  readonly held: { id: string; subnetId: string; addresses: string[] }[];
  readonly idempotent: { subnetId: string; key: string; id: string; addresses: string[] }[];
}

export interface StormOutcome {
  readonly ops: Record<string, number>;
  readonly errors: Record<string, number>;
  readonly unexpected: string[];
  readonly held: WorkerStormReport["held"];
  /** One entry per (subnet, key): every id any client was handed for it. */
  readonly idempotent: Map<string, Set<string>>;
}

export interface StormOptions {
  readonly databaseUrl: string;
  readonly subnets: readonly StormSubnet[];
  readonly label: string;
  readonly processes?: number;
  readonly connectionsPerProcess?: number;
  readonly durationMs?: number;
  /** Every client runs at least this many operations, however slow the machine (default 8). */
  readonly minOpsPerClient?: number;
  readonly maxOpsPerClient?: number;
  /** Operation kinds to draw from (default all): next, random, specific, bulk, idempotent, shrink, grow, release, pools. */
  readonly kinds?: readonly string[];
  readonly unsafeSkipLocking?: boolean;
  /** Runs once every worker has all its connections open, before the barrier opens. */
  readonly beforeGo?: () => Promise<void>;
}

/**
 * Two small subnets (IPv4 /24 and IPv6 /120) in their own namespace, each with a gateway and
 * reserved ranges, a list of specific addresses to fight over (inside and outside the pool sets,
 * never gateway, reserved, network or broadcast) and pool sets for concurrent updates.
 */
export async function createStormSubnets(ipam: Ipam, namespace: string, octet: number): Promise<StormSubnet[]> {
  const v4 = await ipam.createSubnet({ cidr: `10.${octet}.0.0/24`, namespace, gateway: `10.${octet}.0.1`, reserved: [`10.${octet}.0.200/29`, `10.${octet}.0.77`] });
  const v6 = await ipam.createSubnet({ cidr: `fd00:${octet}::/120`, namespace, gateway: `fd00:${octet}::1`, reserved: [`fd00:${octet}::f0/124`] });
  const four = (last: number) => `10.${octet}.0.${last}`;
  const six = (last: number) => `fd00:${octet}::${last.toString(16)}`;
  return [
    {
      id: v4.id,
      specific: [2, 3, 9, 10, 11, 40, 61, 62, 99, 100, 101, 150, 151, 180, 199, 230, 240, 254].map(four),
      poolSets: [null, [{ start: four(10), end: four(150) }], [{ start: four(2), end: four(60) }, { start: four(100), end: four(199) }], [{ start: four(30), end: four(254) }]],
    },
    {
      id: v6.id,
      specific: [2, 3, 15, 16, 17, 64, 65, 128, 160, 161, 238, 239].map(six),
      poolSets: [null, [{ start: six(16), end: six(128) }], [{ start: six(2), end: six(64) }, { start: six(160), end: six(255) }]],
    },
  ];
}

/** Run a storm: `processes` workers with `connectionsPerProcess` clients each, released together. */
export async function runStorm(options: StormOptions): Promise<StormOutcome> {
  const processes = options.processes ?? 4;
  const config = {
    databaseUrl: options.databaseUrl,
    connections: options.connectionsPerProcess ?? 16,
    subnets: options.subnets,
    durationMs: options.durationMs ?? 2_000,
    minOpsPerClient: options.minOpsPerClient ?? 8,
    maxOpsPerClient: options.maxOpsPerClient ?? 40,
    kinds: options.kinds,
    unsafeSkipLocking: options.unsafeSkipLocking ?? false,
    label: options.label,
  };
  const reports = await runWorkersTogether<WorkerStormReport>(
    workerScript("stormWorker.mjs"),
    Array.from({ length: processes }, () => config),
    options.beforeGo,
  );
  return combine(reports);
}

function combine(reports: readonly WorkerStormReport[]): StormOutcome {
  const add = (into: Record<string, number>, from: Record<string, number>) => {
    for (const [key, value] of Object.entries(from)) into[key] = (into[key] ?? 0) + value;
  };
  const ops: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const idempotent = new Map<string, Set<string>>();
  for (const report of reports) {
    add(ops, report.ops);
    add(errors, report.errors);
    for (const entry of report.idempotent) {
      const key = `${entry.subnetId}/${entry.key}`;
      idempotent.set(key, (idempotent.get(key) ?? new Set()).add(entry.id));
    }
  }
  return {
    ops,
    errors,
    unexpected: reports.flatMap((report) => report.unexpected),
    held: reports.flatMap((report) => report.held),
    idempotent,
  };
}

/** `url` with an application_name, so the test can find that run's backends in pg_stat_activity. */
export function withApplicationName(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set("application_name", name);
  return parsed.toString();
}

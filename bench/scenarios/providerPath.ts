import { startProviderHost, urnOf, type ProviderHost } from "../../harness/providerHost.js";
import { serializedProviders } from "../../harness/serializedProviders.js";
import type { BenchContext } from "../benchContext.js";
import { combined, ratio, round, throughputOfCount, type Throughput } from "../measure.js";
import { cpuMs, peakRssMiB } from "../processStatus.js";
import type { ScenarioResult } from "../scenarioResult.js";

/**
 * The engine runs one dynamic-provider host per stack and, at its default `--parallel` (unbounded),
 * sends every independent resource's operations at once. Four stacks deploying together, each with
 * a quarter of the bench's clients in flight, keep the total concurrency equal to the direct path's.
 */
const HOSTS = 4;
const PROJECT = "bench";

/**
 * 7. The same number of allocations two ways, from the same number of concurrent clients: direct
 * `ipam.allocate` calls, and what `pulumi up` does for a new IpAllocation (Check, then Create)
 * through the SDK's own dynamic-provider host over gRPC. Each stack (host) allocates from its own
 * subnet, and the direct path's clients use the same client-to-subnet split on subnets of their own,
 * so both paths meet the same lock contention and start from empty subnets. Runs alternate
 * direct, provider, provider, direct so a drift in the machine's load hits both alike.
 */
export async function providerPath(context: BenchContext): Promise<ScenarioResult> {
  const { ipam, clients } = context;
  const total = context.quick ? 200 : 4_000;
  const stacks = Array.from({ length: HOSTS }, (_, index) => `ci-${index}`);
  const directSubnets = await createSubnets(context, 96, "direct core calls");
  const providerSubnets = await createSubnets(context, 96 + HOSTS, "provider host");
  const providers = await serializedProviders(PROJECT);
  let serial = 0;
  const direct = async (_: number, client: number) => {
    const owner = `${PROJECT}/${stacks[client % HOSTS]!}/web-${serial++}`;
    // The idempotency key the provider derives for a sequential allocation (allocationProvider.ts).
    await ipam.allocate({ subnetId: directSubnets[client % HOSTS]!, owner, idempotencyKey: `${owner}#sequential:` });
  };
  context.log(`scenario 7: starting ${HOSTS} dynamic-provider hosts`);
  const hosts = await startHosts();
  try {
    const startRss = await Promise.all(hosts.map((host) => peakRssMiB(host.pid)));
    await Promise.all(hosts.map((host) => host.configure({ "ipam:databaseUrl": context.url })));
    const viaHost = async (_: number, client: number) => {
      const stack = client % HOSTS;
      const name = `web-${serial++}`;
      const urn = urnOf("ipam:IpAllocation", name, stacks[stack]!, PROJECT);
      const news = { __provider: providers.allocation, __owner: `${PROJECT}/${stacks[stack]!}/${name}`, subnetId: providerSubnets[stack]! };
      const host = hosts[stack]!;
      const checked = await host.check(urn, {}, news);
      if (checked.failures.length > 0) throw new Error(`provider path: check failed: ${checked.failures.map((f) => `${f.property}: ${f.reason}`).join("; ")}`);
      const created = await host.create(urn, checked.inputs);
      if (typeof created.properties.address !== "string") throw new Error("provider path: create returned no address");
    };
    // Untimed: each host loads the provider implementation and opens its pool on first use.
    await throughputOfCount(clients, 2 * clients, direct);
    await throughputOfCount(clients, 2 * clients, viaHost);
    const half = Math.ceil(total / 2);
    const cpuBefore = await Promise.all(hosts.map((host) => cpuMs(host.pid)));
    context.log(`scenario 7: ${total} allocations each way, ${clients} clients, ${HOSTS} hosts × ${clients / HOSTS} in flight (direct, provider, provider, direct)`);
    const firstDirect = await throughputOfCount(clients, half, direct);
    const firstProvider = await throughputOfCount(clients, half, viaHost);
    const secondProvider = await throughputOfCount(clients, total - half, viaHost);
    const secondDirect = await throughputOfCount(clients, total - half, direct);
    const cpuAfter = await Promise.all(hosts.map((host) => cpuMs(host.pid)));
    const peakRss = await Promise.all(hosts.map((host) => peakRssMiB(host.pid)));
    const directRate = combined(firstDirect, secondDirect);
    const providerRate = combined(firstProvider, secondProvider);
    const hostCpuMs = cpuAfter.reduce((sum, after, index) => sum + after - cpuBefore[index]!, 0);
    return result(context, total, directRate, providerRate, hostCpuMs, startRss, peakRss);
  } finally {
    await Promise.all(hosts.map((host) => host.close()));
  }
}

function result(
  context: BenchContext,
  total: number,
  direct: Throughput,
  provider: Throughput,
  hostCpuMs: number,
  startRss: readonly number[],
  peakRss: readonly number[],
): ScenarioResult {
  const maxPeak = round(Math.max(...peakRss), 1);
  const figures: Record<string, number> = {
    allocations: total,
    hosts: HOSTS,
    inFlightPerHost: context.clients / HOSTS,
    directCreatesPerSecond: direct.perSecond,
    providerCreatesPerSecond: provider.perSecond,
    providerOverDirect: ratio(provider.perSecond, direct.perSecond),
    // This process's CPU per allocation: slonik and zod for direct; the gRPC client and protobuf for the provider path.
    directClientCpuMsPerCreate: direct.clientCpuMsPerOp,
    providerClientCpuMsPerCreate: provider.clientCpuMsPerOp,
    hostCpuMsPerCreate: round(hostCpuMs / Math.max(1, provider.operations), 3),
    // The SDK's host alone, before it loads the provider: what a host costs before ours adds anything.
    hostStartRssMiB: round(Math.max(...startRss), 1),
    hostPeakRssMiBMax: maxPeak,
    errors: direct.errors + provider.errors,
  };
  for (const [index, value] of peakRss.entries()) figures[`hostPeakRssMiB/ci-${index}`] = round(value, 1);
  return {
    id: "7-provider-path",
    title: `Provider path: ${total.toLocaleString("en-US")} creates through ${HOSTS} dynamic-provider hosts (Check + Create over gRPC, ${context.clients / HOSTS} in flight each) vs ${context.clients} clients calling allocate; host peak RSS`,
    figures,
    checks: [],
    // The issue sets no target for this scenario: the figures are reported, not judged.
    reported: [
      { name: "provider ÷ direct creates/s", value: ratio(provider.perSecond, direct.perSecond) },
      { name: `host peak RSS, MiB (largest of ${HOSTS})`, value: maxPeak },
    ],
  };
}

/** One fresh /16 per stack: 10.<first>.0.0/16 onwards (scenarios 1–6 use none of 10.96–10.103). */
async function createSubnets(context: BenchContext, first: number, path: string): Promise<string[]> {
  const ids: string[] = [];
  for (let index = 0; index < HOSTS; index += 1) {
    ids.push((await context.ipam.createSubnet({ cidr: `10.${first + index}.0.0/16`, description: `bench: provider path, ${path}` })).id);
  }
  return ids;
}

/** Every host or none: a failed start closes the ones that came up. */
async function startHosts(): Promise<ProviderHost[]> {
  // CI=true: a host without a configured URL fails instead of starting an embedded database.
  const { IPAM_DATABASE_URL: _configuredByConfigure, ...env } = process.env;
  const started = await Promise.allSettled(Array.from({ length: HOSTS }, () => startProviderHost({ ...env, CI: "true" })));
  const hosts = started.flatMap((outcome) => (outcome.status === "fulfilled" ? [outcome.value] : []));
  const failure = started.find((outcome): outcome is PromiseRejectedResult => outcome.status === "rejected");
  if (failure !== undefined) {
    await Promise.all(hosts.map((host) => host.close()));
    throw failure.reason;
  }
  return hosts;
}

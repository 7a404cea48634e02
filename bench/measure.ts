import { performance } from "node:perf_hooks";

export interface Throughput {
  readonly clients: number;
  readonly operations: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly errors: number;
  /** CPU time this Node process spent per completed operation (user + system), in ms. */
  readonly clientCpuMsPerOp: number;
}

export interface Latency {
  readonly samples: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/**
 * Run `operation` back to back from `clients` concurrent loops for `durationMs`; a loop finishes
 * the call in flight when time is up, and the rate counts only calls that completed successfully.
 * `operation(client)` gets the loop's index so a scenario can give each client its own subnet.
 */
export async function throughput(clients: number, durationMs: number, operation: (client: number) => Promise<unknown>): Promise<Throughput> {
  const deadline = performance.now() + durationMs;
  let started = 0;
  return runLoops(clients, () => (performance.now() < deadline ? started++ : undefined), (_, client) => operation(client));
}

/**
 * Run exactly `total` calls of `operation` from `clients` concurrent loops, each loop taking the
 * next call's index (0 … total-1) when it is free; the rate is successful calls over the batch's wall
 * time. For comparing two paths on the same amount of work.
 */
export async function throughputOfCount(clients: number, total: number, operation: (index: number, client: number) => Promise<unknown>): Promise<Throughput> {
  let taken = 0;
  return runLoops(clients, () => (taken < total ? taken++ : undefined), operation);
}

/** Each loop asks `next` for the index of its next call and stops when there is none. */
async function runLoops(clients: number, next: () => number | undefined, operation: (index: number, client: number) => Promise<unknown>): Promise<Throughput> {
  let operations = 0;
  let errors = 0;
  let firstError: unknown;
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      for (let index = next(); index !== undefined; index = next()) {
        try {
          await operation(index, client);
          operations += 1;
        } catch (error) {
          errors += 1;
          firstError ??= error;
          if (errors > 100) throw firstError;
        }
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  if (operations === 0 && firstError !== undefined) throw firstError;
  const clientCpuMsPerOp = round((cpu.user + cpu.system) / 1000 / Math.max(1, operations), 3);
  return { clients, operations, seconds: round(seconds, 3), perSecond: round(operations / seconds, 1), errors, clientCpuMsPerOp };
}

/** Time `samples` sequential calls of `operation` and return p50/p99 in milliseconds. */
export async function latency(samples: number, operation: (index: number) => Promise<unknown>): Promise<Latency> {
  const times: number[] = [];
  for (let index = 0; index < samples; index += 1) {
    const start = performance.now();
    await operation(index);
    times.push(performance.now() - start);
  }
  return { samples, p50Ms: round(percentile(times, 0.5), 3), p99Ms: round(percentile(times, 0.99), 3) };
}

/** Nearest-rank percentile. */
export function percentile(values: readonly number[], fraction: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(fraction * sorted.length)));
  return sorted[rank - 1]!;
}

export async function timed<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const start = performance.now();
  const result = await work();
  return { result, ms: round(performance.now() - start, 3) };
}

export function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** a / b rounded for the report; NaN when b is zero so a missing baseline never reads as a pass. */
export function ratio(a: number, b: number): number {
  return b === 0 ? Number.NaN : round(a / b, 3);
}

/**
 * Time `samples` rounds of sequential calls, one call of each operation per round in turn, and
 * return p50/p99 per operation. Interleaving puts every operation under the same background load,
 * which matters on a shared machine where load drifts over seconds.
 */
export async function interleavedLatency(samples: number, operations: readonly (() => Promise<unknown>)[]): Promise<Latency[]> {
  const times: number[][] = operations.map(() => []);
  for (let round = 0; round < samples; round += 1) {
    for (const [index, operation] of operations.entries()) {
      const start = performance.now();
      await operation();
      times[index]!.push(performance.now() - start);
    }
  }
  return times.map((series) => ({ samples, p50Ms: round(percentile(series, 0.5), 3), p99Ms: round(percentile(series, 0.99), 3) }));
}

/** Two runs of the same work taken as one: their calls and wall times added. */
export function combined(a: Throughput, b: Throughput): Throughput {
  const operations = a.operations + b.operations;
  const seconds = a.seconds + b.seconds;
  const cpuMs = a.clientCpuMsPerOp * a.operations + b.clientCpuMsPerOp * b.operations;
  return {
    clients: a.clients,
    operations,
    seconds: round(seconds, 3),
    perSecond: round(operations / seconds, 1),
    errors: a.errors + b.errors,
    clientCpuMsPerOp: round(cpuMs / Math.max(1, operations), 3),
  };
}

/**
 * Measure `a` and `b` in the order a, b, b, a, each window half of `durationMs`, and add each one's
 * two windows: a drift in the machine's load over the seconds of a run then hits both alike, so
 * their ratio is steadier than that of two runs taken minutes apart.
 */
export async function alternated(clients: number, durationMs: number, a: (client: number) => Promise<unknown>, b: (client: number) => Promise<unknown>): Promise<{ a: Throughput; b: Throughput }> {
  const half = Math.max(1, Math.round(durationMs / 2));
  const a1 = await throughput(clients, half, a);
  const b1 = await throughput(clients, half, b);
  const b2 = await throughput(clients, half, b);
  const a2 = await throughput(clients, half, a);
  return { a: combined(a1, a2), b: combined(b1, b2) };
}

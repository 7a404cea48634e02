import { describe, expect, it } from "vitest";
import { runDeletes } from "../../harness/engine/deleteSchedule.js";
import type { ResourceState } from "../../harness/engine/checkpoint.js";
import { defaultParallel, Workers } from "../../harness/engine/workers.js";

// The modelled engine's step scheduling (harness/engine/workers.ts, deleteSchedule.ts), with gates the
// test opens itself: deterministic, whatever the machine's load.
const gate = () => {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
};

describe("engine workers", () => {
  it("run at most --parallel steps at once, and the rest as slots free up", async () => {
    const workers = new Workers(3);
    let running = 0;
    let peak = 0;
    const gates = Array.from({ length: 7 }, gate);
    const started: number[] = [];
    const all = gates.map((g, i) =>
      workers.run(async () => {
        started.push(i);
        peak = Math.max(peak, ++running);
        await g.opened;
        running--;
      }),
    );
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2]);
    gates[1]!.open();
    await all[1];
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2, 3]);
    for (const g of gates) g.open();
    await Promise.all(all);
    expect(peak).toBe(3);
    expect(started).toHaveLength(7);
  });

  it("defaults to four per CPU unless PULUMI_PARALLEL says otherwise (up.go, defaultParallel)", () => {
    expect(defaultParallel({ PULUMI_PARALLEL: "5" })).toBe(5);
    expect(defaultParallel({})).toBeGreaterThanOrEqual(4);
    expect(() => new Workers(0)).toThrow(/--parallel/);
  });

  it("deletes in antichains: dependents (dependencies, parent, deletedWith) before what they depend on", async () => {
    const r = (urn: string, extra: Partial<ResourceState> = {}): ResourceState => ({ urn, custom: true, type: "t", inputs: {}, outputs: {}, ...extra });
    const stack = r("stack", { custom: false });
    const subnet = r("subnet", { parent: "stack" });
    const a = r("a", { parent: "stack", dependencies: ["subnet"] });
    const b = r("b", { parent: "stack", propertyDependencies: { subnetId: ["subnet"] } });
    const order: string[][] = [];
    let chain: string[] = [];
    const gates = new Map<string, () => void>();
    const done = runDeletes([stack, subnet, a, b], new Workers(8), async (x) => {
      chain.push(x.urn);
      await new Promise<void>((resolve) => gates.set(x.urn, resolve));
    });
    for (const expected of [["a", "b"], ["subnet"], ["stack"]]) {
      while (chain.length < expected.length) await new Promise((res) => setImmediate(res));
      order.push([...chain].sort());
      chain = [];
      for (const urn of expected) gates.get(urn)!();
    }
    await done;
    expect(order).toEqual([["a", "b"], ["subnet"], ["stack"]]);
  });
});

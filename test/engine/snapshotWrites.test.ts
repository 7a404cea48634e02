import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readCheckpoint, type PendingOperation, type ResourceState } from "../../harness/engine/checkpoint.js";
import { sameStepMustWrite } from "../../harness/engine/deployment.js";
import { SnapshotWriter } from "../../harness/engine/snapshotWriter.js";

// The modelled snapshot manager (harness/engine/snapshotWriter.ts) against pkg/backend/snapshot.go:
// defaultServiceLoop serves every mutation request in turn and saves once per request that must
// write (no coalescing), elides the others, and flushes elided writes on Close. Writes are counted
// by the view the writer reads once per write.

const dir = mkdtempSync(join(tmpdir(), "ipam-snapshot-writes-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const resource = (name: string, extra: Partial<ResourceState> = {}): ResourceState => ({
  urn: `urn:pulumi:dev::p::test:Thing::${name}`,
  custom: true,
  id: name,
  type: "test:Thing",
  inputs: { a: 1 },
  outputs: { a: 1 },
  dependencies: [],
  ...extra,
});

function counted(file: string) {
  const resources: ResourceState[] = [];
  const pending: PendingOperation[] = [];
  const seen: number[] = [];
  const writer = new SnapshotWriter(join(dir, file), "dev", () => {
    seen.push(resources.length);
    return { resources, pending };
  });
  return { writer, resources, seen };
}

describe("the modelled snapshot manager", () => {
  it("writes once per mutation, in request order, even when requests arrive while a write runs", async () => {
    const { writer, resources, seen } = counted("each.json");
    const done: number[] = [];
    const requests = Array.from({ length: 12 }, (_, i) => {
      resources.push(resource(`r${i}`));
      return writer.persist().then(() => done.push(i));
    });
    await Promise.all(requests);
    expect(seen).toHaveLength(12); // one write each: a coalescing writer makes 1 or 2 here
    expect(done).toEqual([...Array(12).keys()]);
    const stored = await readCheckpoint(join(dir, "each.json"));
    expect(stored?.checkpoint.latest.resources).toHaveLength(12);
  });

  it("writes the file minified and keeps the one it replaces as .bak, as the DIY backend's saveCheckpoint does", async () => {
    const { writer, resources } = counted("minified.json");
    resources.push(resource("r0", { inputs: { nested: { a: [1, 2] } } }));
    await writer.persist();
    const first = readFileSync(join(dir, "minified.json"), "utf8");
    expect(first).not.toMatch(/\n/); // compactJSONMarshaler, since v3.238.0
    expect(first).toBe(JSON.stringify(JSON.parse(first)));
    resources.push(resource("r1"));
    await writer.persist();
    expect(readFileSync(join(dir, "minified.json.bak"), "utf8")).toBe(first); // backupTarget
    expect(JSON.parse(readFileSync(join(dir, "minified.json"), "utf8")).checkpoint.latest.resources).toHaveLength(2);
  });

  it("elides a mutation that must not write, and flushes elided writes once on close", async () => {
    const { writer, seen } = counted("elided.json");
    await writer.flush();
    expect(seen).toHaveLength(1); // nothing written yet: Close writes (hasElidedWrites starts true)
    await writer.persist(false);
    await writer.persist(false);
    expect(seen).toHaveLength(1);
    await writer.flush();
    expect(seen).toHaveLength(2);
    await writer.flush();
    expect(seen).toHaveLength(2); // nothing elided since the last write
    await writer.persist(false);
    await writer.persist();
    await writer.flush();
    expect(seen).toHaveLength(3); // the write after the elided one carried it
  });

  it("writes nothing once the CLI is killed", async () => {
    const { writer, seen } = counted("stopped.json");
    await writer.persist();
    writer.stopped = true;
    await writer.persist();
    await writer.flush();
    expect(seen).toHaveLength(1);
  });
});

describe("sameSnapshotMutation.mustWrite, modelled", () => {
  const old = resource("a", { dependencies: ["urn:x", "urn:y"], parent: "urn:stack" });
  it("does not write a same step with nothing new (dependencies compared sorted)", () => {
    expect(sameStepMustWrite(old, structuredClone(old))).toBe(false);
    expect(sameStepMustWrite(old, { ...structuredClone(old), dependencies: ["urn:y", "urn:x"] })).toBe(false);
  });
  it("writes when the inputs, outputs, dependencies, parent, protect or retainOnDelete changed", () => {
    for (const change of [
      { inputs: { a: 2 } },
      { outputs: { a: 1, b: 2 } },
      { dependencies: ["urn:x"] },
      { parent: "urn:other" },
      { protect: true },
      { retainOnDelete: true },
      { deletedWith: "urn:z" },
    ] satisfies Partial<ResourceState>[]) {
      expect(sameStepMustWrite(old, { ...structuredClone(old), ...change }), JSON.stringify(change)).toBe(true);
    }
  });
});

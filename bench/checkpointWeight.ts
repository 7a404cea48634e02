import { readFile } from "node:fs/promises";

export interface AllocationWeight {
  /** Mean bytes one allocation's resource takes in the file, as the engine model writes it (minified JSON, secrets sealed). */
  readonly bytes: number;
  /** How many `__provider` texts one allocation's resource stores (its inputs', its outputs'). */
  readonly providerCopies: number;
  readonly resources: number;
}

/**
 * What one allocation weighs in a checkpoint the engine model wrote (harness/engine/checkpoint.ts,
 * `writeCheckpoint`: minified JSON, as the DIY backend writes it), read from the file as stored: the
 * resources whose name is `a<n>` (the scenario's allocations, ours or a no-op's), each as its bytes
 * in the file plus the separator. This is what the engine serializes again on every step for each
 * resource, so two sides with equal figures carry equal state.
 */
export async function allocationWeight(checkpointFile: string): Promise<AllocationWeight> {
  const stored = JSON.parse(await readFile(checkpointFile, "utf8")) as { checkpoint: { latest: { resources: Record<string, unknown>[] } } };
  const allocations = stored.checkpoint.latest.resources.filter((r) => /::a\d+$/.test(String(r.urn)));
  if (allocations.length === 0) throw new Error(`no allocation resources (named a<n>) in ${checkpointFile}`);
  let bytes = 0;
  let providerCopies = 0;
  for (const resource of allocations) {
    bytes += Buffer.byteLength(JSON.stringify(resource)) + ",".length;
    providerCopies += ["inputs", "outputs"].filter((k) => typeof (resource[k] as Record<string, unknown> | undefined)?.__provider === "string").length;
  }
  return { bytes: bytes / allocations.length, providerCopies: providerCopies / allocations.length, resources: allocations.length };
}

import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";

/**
 * Summarise the profiles bench scenario 7 wrote with IPAM_BENCH_PROFILE_DIR: per group of hosts, the
 * CPU of the timed window by owner (ours, the Pulumi SDK, gRPC, protobuf, slonik and pg, zod, Node,
 * GC), both as self time and as time under one of our frames; and per heap snapshot, what the code
 * of each owner takes. `node dist/bench/profileSummary.js <dir> [--top 15]`
 */
const { positionals, values } = parseArgs({ allowPositionals: true, options: { top: { type: "string", default: "15" } } });
const dir = positionals[0];
if (dir === undefined) throw new Error("usage: profileSummary <profile dir> [--top N]");
const top = Number(values.top);

/** Who owns a script, from its URL or file name. */
function owner(url: string): string {
  if (url === "") return "(no script: V8/Node native, or the serialized provider)";
  if (url.startsWith("node:")) return "node internals";
  const path = url.replace(/^file:\/\//, "");
  const at = path.lastIndexOf("/node_modules/");
  if (at < 0) return isOurs(path) ? "ours (provider/, sdk/)" : `other: ${path}`;
  const rest = path.slice(at + "/node_modules/".length).split("/");
  const pkg = rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!;
  if (pkg === "@pulumi/pulumi" && rest[2] === "proto") return "@pulumi/pulumi (generated protobuf stubs)";
  return pkg;
}

function isOurs(url: string): boolean {
  return /\/(provider|sdk)\//.test(url) && !url.includes("/node_modules/");
}

/** The timed window of one group of hosts (providerPath.ts writes one line per group). */
interface Window {
  label: string;
  pids: number[];
  fromUs: number;
  toUs: number;
  created: number[];
}

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface CpuProfile {
  nodes: { id: number; callFrame: CallFrame; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
}

const add = (map: Map<string, number>, key: string, amount: number) => map.set(key, (map.get(key) ?? 0) + amount);
const sorted = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1]).slice(0, top);
/** The pid in a file name such as CPU.20261203.134037.8170.0.001.cpuprofile. */
const pidOf = (file: string) => Number(file.split(".")[3]);

const files = await readdir(dir);
const windows = (await readFile(join(dir, "windows.jsonl"), "utf8"))
  .trim()
  .split("\n")
  .map((line) => JSON.parse(line) as Window);
for (const window of windows) await summariseCpu(window);
for (const file of files.filter((f) => f.endsWith(".heapsnapshot"))) {
  const label = windows.find((window) => window.pids.includes(pidOf(file)))?.label ?? "unknown host";
  await summariseHeap(label, file);
}

/** Self time by owner and by function, and time under our frames, of the samples inside the window. */
async function summariseCpu(window: Window): Promise<void> {
  const byOwner = new Map<string, number>();
  const byFunction = new Map<string, number>();
  const underOurs = new Map<string, number>();
  let totalUs = 0;
  const cpuFiles = files.filter((f) => f.endsWith(".cpuprofile") && window.pids.includes(pidOf(f)));
  for (const file of cpuFiles) {
    const profile = JSON.parse(await readFile(join(dir!, file), "utf8")) as CpuProfile;
    const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
    const parents = new Map<number, number>();
    for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
    let at = profile.startTime;
    for (let index = 0; index < profile.samples.length; index += 1) {
      // A profile's timestamps are on the monotonic clock the bench read the window's bounds from.
      at += profile.timeDeltas[index]!;
      if (at < window.fromUs || at > window.toUs) continue;
      const leaf = nodes.get(profile.samples[index]!)!;
      // A sample's time is the delta to the next sample (Chrome DevTools' attribution).
      const us = profile.timeDeltas[index + 1] ?? 0;
      const name = leaf.callFrame.functionName;
      if (name === "(idle)") continue;
      const who = name.startsWith("(") ? name : owner(leaf.callFrame.url);
      totalUs += us;
      add(byOwner, who, us);
      add(byFunction, `${who}: ${name || "(anonymous)"} ${leaf.callFrame.url.split("/").slice(-2).join("/")}:${leaf.callFrame.lineNumber + 1}`, us);
      let ours = false;
      for (let id: number | undefined = leaf.id; id !== undefined && !ours; id = parents.get(id)) ours = isOurs(nodes.get(id)!.callFrame.url);
      add(underOurs, ours ? `under a frame of ours (what our code calls: ${who} here)` : "under none of ours (gRPC, protobuf, the SDK host, I/O callbacks, GC)", us);
    }
  }
  const creates = window.created.reduce((sum, n) => sum + n, 0);
  const share = (us: number) => `${(us / 1000).toFixed(0).padStart(6)} ms ${((100 * us) / totalUs).toFixed(1).padStart(5)} %`;
  console.log(`${window.label}: CPU in the timed window, ${cpuFiles.length} hosts, ${(totalUs / 1000).toFixed(0)} ms busy (idle excluded); self time by owner:`);
  for (const [key, us] of sorted(byOwner)) console.log(`  ${share(us)}  ${key}`);
  console.log("  by stack:");
  for (const [key, us] of sorted(underOurs)) console.log(`  ${share(us)}  ${key}`);
  console.log(`  top ${top} functions by self time:`);
  for (const [key, us] of sorted(byFunction)) console.log(`  ${share(us)}  ${key}`);
  console.log(`  (${creates} resources made by these hosts in all when their RSS was read)\n`);
}

/**
 * A heap snapshot's nodes and edges are flat arrays, their fields named in its meta. A Script is a
 * code node named by its file with a `source` edge; each function's metadata points at its script.
 */
interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

async function summariseHeap(label: string, file: string): Promise<void> {
  const snap = JSON.parse(await readFile(join(dir!, file), "utf8")) as Snapshot;
  const { node_fields, node_types, edge_fields, edge_types } = snap.snapshot.meta;
  const nf = node_fields.length;
  const ef = edge_fields.length;
  const [typeAt, nameAt, sizeAt, edgeCountAt] = ["type", "name", "self_size", "edge_count"].map((f) => node_fields.indexOf(f)) as [number, number, number, number];
  const [edgeTypeAt, edgeNameAt, toAt] = ["type", "name_or_index", "to_node"].map((f) => edge_fields.indexOf(f)) as [number, number, number];
  const count = snap.nodes.length / nf;
  const firstEdge = new Uint32Array(count + 1);
  for (let n = 0; n < count; n += 1) firstEdge[n + 1] = firstEdge[n]! + snap.nodes[n * nf + edgeCountAt]! * ef;
  const nameOf = (n: number) => snap.strings[snap.nodes[n * nf + nameAt]!]!;
  const sizeOf = (n: number) => snap.nodes[n * nf + sizeAt]!;
  const typeOf = (n: number) => node_types[0][snap.nodes[n * nf + typeAt]!]!;
  const edge = (n: number, name: string): number | undefined => {
    for (let e = firstEdge[n]!; e < firstEdge[n + 1]!; e += ef) {
      const type = edge_types[0][snap.edges[e + edgeTypeAt]!];
      if ((type === "internal" || type === "property") && snap.strings[snap.edges[e + edgeNameAt]!] === name) return snap.edges[e + toAt]! / nf;
    }
    return undefined;
  };
  let total = 0;
  const byType = new Map<string, number>();
  const scriptOwner = new Map<number, string>();
  const codeByOwner = new Map<string, number>();
  for (let n = 0; n < count; n += 1) {
    total += sizeOf(n);
    add(byType, typeOf(n), sizeOf(n));
    const source = typeOf(n) === "code" && /^(\/|node:|file:)/.test(nameOf(n)) ? edge(n, "source") : undefined;
    if (source === undefined) continue;
    scriptOwner.set(n, owner(nameOf(n)));
    add(codeByOwner, owner(nameOf(n)), sizeOf(n) + sizeOf(source));
  }
  for (let n = 0; n < count; n += 1) {
    if (typeOf(n) !== "code") continue;
    const script = edge(n, "script");
    const who = script === undefined ? undefined : scriptOwner.get(script);
    if (who === undefined) continue;
    const bytecode = edge(n, "function_data");
    add(codeByOwner, who, sizeOf(n) + (bytecode === undefined ? 0 : sizeOf(bytecode)));
  }
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1).padStart(6)} MiB`;
  console.log(`${label}, ${file}: V8 heap ${mib(total)} live (sum of self sizes, after the snapshot's GC)`);
  console.log("  by node type:");
  for (const [type, size] of sorted(byType).slice(0, 8)) console.log(`    ${mib(size)}  ${type}`);
  console.log("  code (scripts' source, function metadata, bytecode) by owner:");
  for (const [who, size] of sorted(codeByOwner)) console.log(`    ${mib(size)}  ${who}`);
  console.log();
}

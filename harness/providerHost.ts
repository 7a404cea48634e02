import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

// grpc-js and google-protobuf must be the copies @pulumi/pulumi's stubs were generated against.
const pulumiRequire = createRequire(require_resolve("@pulumi/pulumi"));
function require_resolve(id: string): string {
  return createRequire(import.meta.url).resolve(id);
}
const grpc = pulumiRequire("@grpc/grpc-js");
const provrpc = pulumiRequire("@pulumi/pulumi/proto/provider_grpc_pb.js");
const provproto = pulumiRequire("@pulumi/pulumi/proto/provider_pb.js");
const structproto = pulumiRequire("google-protobuf/google/protobuf/struct_pb.js");
const emptyproto = pulumiRequire("google-protobuf/google/protobuf/empty_pb.js");

export type Props = Record<string, unknown>;

/** One SDK dynamic-provider host process, driven over gRPC the way the engine drives it. */
export interface ProviderHost {
  readonly pid: number;
  /** Everything the host printed (stdout + stderr), for secret scans. */
  output(): string;
  configure(config: Record<string, string>): Promise<void>;
  check(urn: string, olds: Props, news: Props): Promise<{ inputs: Props; failures: { property: string; reason: string }[] }>;
  diff(urn: string, id: string, olds: Props, news: Props): Promise<{ changes: number; replaces: string[]; deleteBeforeReplace: boolean; diffs: string[] }>;
  create(urn: string, props: Props, preview?: boolean): Promise<{ id: string; properties: Props }>;
  read(urn: string, id: string, props: Props, inputs: Props): Promise<{ id: string; properties: Props; inputs: Props }>;
  update(urn: string, id: string, olds: Props, news: Props): Promise<{ properties: Props }>;
  delete(urn: string, id: string, props: Props): Promise<void>;
  /** With IPAM_BENCH_PROFILE_DIR set: write a heap snapshot into that folder now (resolves once written). */
  heapSnapshot(): Promise<void>;
  close(): Promise<void>;
}

/**
 * `props` as the host will receive them: through a protobuf Struct and back. Throws for what a Struct
 * cannot hold (undefined, bigint, functions). Some values arrive changed: a high surrogate with no low
 * one after it is dropped, and an own "__proto__" key is lost when the host rebuilds the object.
 */
export function overTheWire(props: Props): Props {
  const struct = structproto.Struct.fromJavaScript(props);
  return structproto.Struct.deserializeBinary(struct.serializeBinary()).toJavaScript();
}

/** Why the host would not receive `props` exactly as given, or null when it would. */
export function wireProblem(props: Props): string | null {
  let received: Props;
  try {
    received = overTheWire(props);
  } catch {
    return "a protobuf Struct cannot hold the value";
  }
  return sameOnTheWire(received, props) ? null : "the host receives a different value";
}

/** Deep equality in which NaN equals NaN (a Struct carries NaN and infinities as doubles). */
function sameOnTheWire(a: unknown, b: unknown): boolean {
  if (typeof a === "number" && typeof b === "number") return Object.is(a, b) || a === b;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => sameOnTheWire(v, b[i]));
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object") {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && sameOnTheWire((a as Props)[k], (b as Props)[k]));
  }
  return a === b;
}

/** Far above any legitimate call, even on a loaded machine; only a hung call reaches it. */
const CALL_DEADLINE_MS = 60_000;

/** The SDK's dynamic-provider host, relative to a node_modules folder. */
export const HOST_SCRIPT = join("@pulumi", "pulumi", "cmd", "dynamic-provider", "index.js");
const hostScript = join(dirname(require_resolve("@pulumi/pulumi/package.json")), "cmd", "dynamic-provider", "index.js");

export function urnOf(type: string, name: string, stack = "dev", project = "proj"): string {
  return `urn:pulumi:${stack}::${project}::pulumi-nodejs:dynamic:Resource::${name}`;
}

export interface ProviderHostPlacement {
  /** The host's working directory: the engine starts it in the program's directory (default: this process's). */
  readonly cwd?: string;
  /** The host script to run, e.g. the copy under another checkout's node_modules (default: this repository's). */
  readonly hostScript?: string;
}

/**
 * Opt-in profiling for the bench, never on by default: with IPAM_BENCH_PROFILE_DIR in the host's
 * environment it writes a CPU profile there when it exits (SIGTERM is turned into an exit, which
 * --cpu-prof needs to write) and a heap snapshot on SIGUSR2.
 */
function profilingArgs(env: NodeJS.ProcessEnv): string[] {
  const dir = env.IPAM_BENCH_PROFILE_DIR;
  if (dir === undefined || dir === "") return [];
  return [
    "--cpu-prof",
    `--cpu-prof-dir=${dir}`,
    "--cpu-prof-interval=250",
    "--heapsnapshot-signal=SIGUSR2",
    `--diagnostic-dir=${dir}`,
    `--import=data:text/javascript,process.on("SIGTERM",()=>process.exit(0))`,
  ];
}

/** Spawn the SDK's own host with this Node (24) and connect to the port it prints. */
export async function startProviderHost(env: NodeJS.ProcessEnv = process.env, placement: ProviderHostPlacement = {}): Promise<ProviderHost> {
  const script = placement.hostScript ?? hostScript;
  const child: ChildProcess = spawn(process.execPath, [...profilingArgs(env), script, "127.0.0.1:1"], { env, stdio: ["ignore", "pipe", "pipe"], ...(placement.cwd === undefined ? {} : { cwd: placement.cwd }) });
  let out = "";
  child.stderr!.on("data", (d) => (out += d));
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      out += d;
      const m = /^(\d+)\s*$/m.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once("exit", (code) => reject(new Error(`provider host exited (${code}): ${out}`)));
  });
  const client = new provrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  // A host that never answers (it once threw while sending a status) fails the call, naming the request, instead of the whole test timing out.
  const call = <T>(method: string, req: unknown): Promise<T> =>
    new Promise((resolve, reject) =>
      client[method](req, new grpc.Metadata(), { deadline: Date.now() + CALL_DEADLINE_MS }, (err: Error | null, res: T) => (err ? reject(err) : resolve(res))),
    );
  const struct = (v: Props) => structproto.Struct.fromJavaScript(v);
  return {
    pid: child.pid!,
    output: () => out,
    async configure(config) {
      const req = new provproto.ConfigureRequest();
      req.setArgs(struct(config));
      await call("configure", req);
    },
    async check(urn, olds, news) {
      const req = new provproto.CheckRequest();
      req.setUrn(urn);
      req.setOlds(struct(olds));
      req.setNews(struct(news));
      const res: any = await call("check", req);
      return {
        inputs: res.getInputs()?.toJavaScript() ?? {},
        failures: res.getFailuresList().map((f: any) => ({ property: f.getProperty(), reason: f.getReason() })),
      };
    },
    async diff(urn, id, olds, news) {
      const req = new provproto.DiffRequest();
      req.setUrn(urn);
      req.setId(id);
      req.setOlds(struct(olds));
      req.setNews(struct(news));
      const res: any = await call("diff", req);
      return { changes: res.getChanges(), replaces: res.getReplacesList(), deleteBeforeReplace: res.getDeletebeforereplace(), diffs: res.getDiffsList() };
    },
    async create(urn, props, preview = false) {
      const req = new provproto.CreateRequest();
      req.setUrn(urn);
      req.setProperties(struct(props));
      req.setPreview(preview);
      const res: any = await call("create", req);
      return { id: res.getId(), properties: res.getProperties()?.toJavaScript() ?? {} };
    },
    async read(urn, id, props, inputs) {
      const req = new provproto.ReadRequest();
      req.setUrn(urn);
      req.setId(id);
      req.setProperties(struct(props));
      req.setInputs(struct(inputs));
      const res: any = await call("read", req);
      return { id: res.getId(), properties: res.getProperties()?.toJavaScript() ?? {}, inputs: res.getInputs()?.toJavaScript() ?? {} };
    },
    async update(urn, id, olds, news) {
      const req = new provproto.UpdateRequest();
      req.setUrn(urn);
      req.setId(id);
      req.setOlds(struct(olds));
      req.setNews(struct(news));
      const res: any = await call("update", req);
      return { properties: res.getProperties()?.toJavaScript() ?? {} };
    },
    async delete(urn, id, props) {
      const req = new provproto.DeleteRequest();
      req.setUrn(urn);
      req.setId(id);
      req.setProperties(struct(props));
      await call("delete", req);
    },
    async heapSnapshot() {
      child.kill("SIGUSR2");
      // The host writes the snapshot on its main thread before it serves another call.
      await call("getPluginInfo", new emptyproto.Empty());
    },
    async close() {
      client.close();
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}

import { createRequire } from "node:module";

/**
 * The gRPC services a Pulumi program talks to: ResourceMonitor (RegisterResource, ReadResource,
 * RegisterResourceOutputs) and Engine (Log, Get/SetRootResource), as the CLI serves them to the
 * language host (pulumi/pulumi pkg/resource/deploy/source_eval.go, `resmon` and its methods;
 * pkg/resource/deploy/deployment.go serves the Engine). Registrations are handed to a `MonitorHandlers`
 * implementation (the deployment), which answers with the resource's URN, id and outputs.
 */
const pulumiRequire = createRequire(createRequire(import.meta.url).resolve("@pulumi/pulumi"));
const grpc = pulumiRequire("@grpc/grpc-js");
const resrpc = pulumiRequire("@pulumi/pulumi/proto/resource_grpc_pb.js");
const resproto = pulumiRequire("@pulumi/pulumi/proto/resource_pb.js");
const engrpc = pulumiRequire("@pulumi/pulumi/proto/engine_grpc_pb.js");
const engproto = pulumiRequire("@pulumi/pulumi/proto/engine_pb.js");
const structproto = pulumiRequire("google-protobuf/google/protobuf/struct_pb.js");
const emptyproto = pulumiRequire("google-protobuf/google/protobuf/empty_pb.js");

export type Props = Record<string, unknown>;

/** What RegisterResource carries (resource.Goal in pulumi/pulumi sdk/go/common/resource/goal.go). */
export interface Goal {
  type: string;
  name: string;
  parent: string;
  custom: boolean;
  inputs: Props;
  dependencies: string[];
  propertyDependencies: Record<string, string[]>;
  ignoreChanges: string[];
  replaceOnChanges: string[];
  /** undefined when the program did not set the option (`deleteBeforeReplaceDefined` false). */
  deleteBeforeReplace: boolean | undefined;
  protect: boolean;
  retainOnDelete: boolean;
  /** The URN given to `deletedWith`, or "". */
  deletedWith: string;
  additionalSecretOutputs: string[];
  /** The `import` option's id, or "". */
  importId: string;
}

/** What ReadResource carries: `Resource.get` and StackReference. */
export interface ReadGoal {
  type: string;
  name: string;
  parent: string;
  id: string;
  inputs: Props;
  dependencies: string[];
}

export interface MonitorHandlers {
  /** `unknown`: a skipped create (--target); the SDK then resolves every output as unknown (source_eval.go, RegisterResult.Unknown). */
  registerResource(goal: Goal): Promise<{ urn: string; id: string; outputs: Props; unknown?: boolean }>;
  readResource(goal: ReadGoal): Promise<{ urn: string; outputs: Props }>;
  registerResourceOutputs(urn: string, outputs: Props): Promise<void>;
  log(severity: string, message: string, urn: string): void;
}

export interface Monitor {
  readonly address: string;
  close(): Promise<void>;
}

const SEVERITY = ["debug", "info", "warning", "error"];
const SUPPORTED = new Set(["secrets", "deletedWith"]);

function propertyDependencies(map: any): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  map.forEach((deps: any, key: string) => (out[key] = deps.getUrnsList()));
  return out;
}

/** Serve the ResourceMonitor and Engine services on one local port. */
export async function startMonitor(handlers: MonitorHandlers): Promise<Monitor> {
  const server = new grpc.Server();
  // Every answer goes through here, so a handler's failure reaches the program as a gRPC error
  // (the SDK then fails the resource, as under `pulumi up`).
  const unary =
    <T>(work: (req: any) => Promise<T> | T) =>
    (call: any, callback: (err: unknown, res?: T) => void) => {
      Promise.resolve()
        .then(() => work(call.request))
        .then(
          (res) => callback(null, res),
          (err: Error) => callback({ code: grpc.status.UNKNOWN, details: err.message }),
        );
    };
  let rootUrn = "";

  server.addService(resrpc.ResourceMonitorService, {
    // "secrets" and "deletedWith", as the CLI's monitor supports them (source_eval.go, `SupportsFeature`):
    // the SDK then sends secret values wrapped (secrets.ts) and unwraps them from answers, and sends the
    // deletedWith option. No other optional feature (output values, resource references...) is
    // advertised: the SDK then sends plain values and the unknown sentinel.
    supportsFeature: unary((req: any) => new resproto.SupportsFeatureResponse().setHassupport(SUPPORTED.has(req.getId()))),
    registerResource: unary(async (req: any) => {
      const goal: Goal = {
        type: req.getType(),
        name: req.getName(),
        parent: req.getParent(),
        custom: req.getCustom(),
        inputs: req.getObject()?.toJavaScript() ?? {},
        dependencies: req.getDependenciesList(),
        propertyDependencies: propertyDependencies(req.getPropertydependenciesMap()),
        ignoreChanges: req.getIgnorechangesList(),
        replaceOnChanges: req.getReplaceonchangesList(),
        deleteBeforeReplace: req.getDeletebeforereplacedefined() ? req.getDeletebeforereplace() : undefined,
        protect: req.getProtect() === true,
        retainOnDelete: req.getRetainondelete() === true,
        deletedWith: req.getDeletedwith() ?? "",
        additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
        importId: req.getImportid() ?? "",
      };
      const res = await handlers.registerResource(goal);
      return new resproto.RegisterResourceResponse()
        .setUrn(res.urn)
        .setId(res.id)
        .setObject(structproto.Struct.fromJavaScript(res.outputs))
        .setUnknown(res.unknown === true);
    }),
    readResource: unary(async (req: any) => {
      const res = await handlers.readResource({
        type: req.getType(),
        name: req.getName(),
        parent: req.getParent(),
        id: req.getId(),
        inputs: req.getProperties()?.toJavaScript() ?? {},
        dependencies: req.getDependenciesList(),
      });
      return new resproto.ReadResourceResponse().setUrn(res.urn).setProperties(structproto.Struct.fromJavaScript(res.outputs));
    }),
    registerResourceOutputs: unary(async (req: any) => {
      await handlers.registerResourceOutputs(req.getUrn(), req.getOutputs()?.toJavaScript() ?? {});
      return new emptyproto.Empty();
    }),
    signalAndWaitForShutdown: unary(() => new emptyproto.Empty()),
  });

  server.addService(engrpc.EngineService, {
    log: unary((req: any) => {
      handlers.log(SEVERITY[req.getSeverity()] ?? "info", req.getMessage(), req.getUrn());
      return new emptyproto.Empty();
    }),
    getRootResource: unary(() => new engproto.GetRootResourceResponse().setUrn(rootUrn)),
    setRootResource: unary((req: any) => {
      rootUrn = req.getUrn();
      return new engproto.SetRootResourceResponse();
    }),
  });

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err: Error | null, p: number) => (err ? reject(err) : resolve(p))),
  );
  return {
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        // A program killed mid-call leaves a stream open; don't wait for it.
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000).unref();
      }),
  };
}

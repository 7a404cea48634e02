import { pathToFileURL } from "node:url";
import * as pulumi from "@pulumi/pulumi";

export interface CapturedResource {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, unknown>;
}

/**
 * Run a Pulumi program under setMocks and return what each resource sent to the engine, including
 * the serialized `__provider` string and hidden inputs (owner) exactly as the host will receive them.
 */
export async function captureResources(
  program: () => void | Promise<void>,
  project = "proj",
  stack = "dev",
  stateOf: (type: string, name: string, inputs: Record<string, unknown>) => Record<string, unknown> = (_t, _n, inputs) => inputs,
): Promise<CapturedResource[]> {
  const captured: CapturedResource[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        captured.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: `${args.name}-id`, state: stateOf(args.type, args.name, args.inputs) };
      },
      call: (args) => args.inputs,
    },
    project,
    stack,
    false,
  );
  await program();
  // Let the SDK finish registering (serialization is asynchronous).
  for (let i = 0; i < 50 && captured.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 200));
  return captured;
}

/**
 * The `__provider` strings for Subnet and IpAllocation, and the owner the SDK computes for `name`.
 * `sdkEntry` is the package entry to register them with (default: this checkout's, whose texts are
 * the copied loader; an installed copy's `dist/sdk/index.js` gives the texts a user's program stores,
 * host/lazyProvider.cjs).
 */
export async function serializedProviders(project = "proj", stack = "dev", sdkEntry?: string) {
  const { Subnet, IpAllocation } = (await import(sdkEntry === undefined ? "../sdk/index.js" : pathToFileURL(sdkEntry).href)) as typeof import("../sdk/index.js");
  const resources = await captureResources(() => {
    const subnet = new Subnet("net", { cidr: "10.0.0.0/24" });
    new IpAllocation("web", { subnetId: subnet.subnetId });
  }, project, stack);
  const subnet = resources.find((r) => r.name === "net")!;
  const alloc = resources.find((r) => r.name === "web")!;
  return {
    subnet: String(subnet.inputs.__provider),
    allocation: String(alloc.inputs.__provider),
    ownerOf: (name: string) => `${project}/${stack}/${name}`,
    resources,
  };
}

/**
 * The `__provider` string of a dynamic provider that does no work of its own (Check accepts the
 * inputs, Create echoes them): what the SDK's host costs per resource before any provider adds to it.
 */
export function noopProvider(project = "proj", stack = "dev"): Promise<string> {
  return providerText(
    {
      check: async (_olds, news) => ({ inputs: news }),
      create: async (inputs) => ({ id: String(inputs.__owner), outs: inputs }),
    },
    project,
    stack,
  );
}

/**
 * The no-op whose Create first waits `createDelayMs` on a timer (no CPU): a provider that does
 * nothing but answers at the pace of one that waits for a database. (A provider of its own, not a
 * parameter of noopProvider's, so the no-op's text stays what earlier runs measured.)
 */
export function pacedNoopProvider(createDelayMs: number, project = "proj", stack = "dev"): Promise<string> {
  return providerText(
    {
      check: async (_olds, news) => ({ inputs: news }),
      create: async (inputs) => {
        await new Promise((resolve) => setTimeout(resolve, createDelayMs));
        return { id: String(inputs.__owner), outs: inputs };
      },
    },
    project,
    stack,
  );
}

/** The `__provider` text the SDK serializes for a resource of `provider`. */
async function providerText(provider: pulumi.dynamic.ResourceProvider, project: string, stack: string): Promise<string> {
  const resources = await captureResources(() => {
    class Noop extends pulumi.dynamic.Resource {}
    new Noop(provider, "noop", {}, undefined, "bench");
  }, project, stack);
  return String(resources[0]!.inputs.__provider);
}

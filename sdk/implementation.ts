import type * as pulumi from "@pulumi/pulumi";

/**
 * A provider whose serialized closure holds no path and no value from this machine: each method
 * finds the compiled implementation by package name inside the host, at call time, and delegates.
 * The SDK host uses the `__provider` stored in state for Read and Delete, so whatever it names must
 * resolve from any checkout that later runs the stack (docs/identity.md). Capturing a pool, schema
 * or config here would break serialization or leak the connection string into state.
 *
 * Everything the methods use is a global (`process`) or a literal: the closure serializer copies
 * the values of captured variables into the text it stores.
 */
export function lazyProvider(kind: "subnet" | "allocation"): pulumi.dynamic.ResourceProvider {
  // The package is resolved from the program directory (the host's working directory), then from
  // where the host's own @pulumi/pulumi lives (the program's node_modules); `pulumi-ipam/dynamic` is
  // an exports entry. The first call resolves and loads it, and leaves it on a global for the host
  // process's later calls (a lookup per call was a measurable share of the host's CPU). No comment
  // goes inside the function: its text is serialized into `__provider`, which travels in every
  // Check and Create request and response (bench scenario 7) and is stored in state.
  const load = () => {
    const key = Symbol.for("pulumi-ipam/dynamic");
    const loaded = (globalThis as any)[key];
    if (loaded !== undefined) return loaded;
    const modules = (process as any).getBuiltinModule("node:module");
    const path = (process as any).getBuiltinModule("node:path");
    const fs = (process as any).getBuiltinModule("node:fs");
    const host = typeof process.argv[1] === "string" ? path.resolve(process.argv[1]) : undefined;
    const bases = [path.join(process.cwd(), "package.json")];
    if (host !== undefined) bases.push(host, fs.existsSync(host) ? fs.realpathSync(host) : host);
    for (const base of bases) {
      let found: string | undefined;
      try {
        found = modules.createRequire(base).resolve("pulumi-ipam/dynamic");
      } catch {
        continue;
      }
      return ((globalThis as any)[key] = modules.createRequire(found)(found));
    }
    throw new Error(
      `ipam: cannot find the pulumi-ipam package from ${process.cwd()}: install it in the Pulumi program's directory (npm install pulumi-ipam); the provider resolves "pulumi-ipam/dynamic" from there at run time`,
    );
  };
  return {
    configure: async (req: any) => load().configureConnection(req.config),
    check: async (olds: any, news: any) => load()[kind].check(olds, news),
    diff: async (id: any, olds: any, news: any) => load()[kind].diff(id, olds, news),
    create: async (inputs: any) => load()[kind].create(inputs),
    read: async (id: any, props: any) => load()[kind].read(id, props),
    update: async (id: any, olds: any, news: any) => load()[kind].update(id, olds, news),
    delete: async (id: any, props: any) => load()[kind].remove(id, props),
  } as pulumi.dynamic.ResourceProvider;
}

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
 *
 * The text is kept short (issue 25): it travels in every Check and Create request and response,
 * and the host's protobuf code spends allocation and CPU on each of its characters in each of the
 * four (bench scenario 7: 3,539 characters cost ~0.3 MB of garbage per resource). The serializer
 * wraps every function in ~200 characters of its own, so the seven methods are one-line calls
 * into one shared `call`, and no comment goes inside a function (its text is serialized too).
 */
export function lazyProvider(kind: "subnet" | "allocation"): pulumi.dynamic.ResourceProvider {
  // The package is resolved from the program directory (the host's working directory), then from
  // where the host's own @pulumi/pulumi lives (the program's node_modules, as given and with links
  // resolved); `pulumi-ipam/dynamic` is an exports entry. The first call resolves and loads it, and
  // leaves it on a global for the host process's later calls (a lookup per call was a measurable
  // share of the host's CPU); texts serialized by earlier releases use the same global. A failure
  // to load a package that was found is not taken for "not found".
  const provider: any = {
    configure: async (request: any) => {
      const load = () => {
        const key = Symbol.for("pulumi-ipam/dynamic");
        if ((globalThis as any)[key] !== undefined) return (globalThis as any)[key];
        const { createRequire } = (process as any).getBuiltinModule("node:module");
        const fs = (process as any).getBuiltinModule("node:fs");
        const host = process.argv[1] ?? "";
        for (const base of [`${process.cwd()}/package.json`, host, fs.existsSync(host) ? fs.realpathSync(host) : host]) {
          let found;
          try {
            found = createRequire(base).resolve("pulumi-ipam/dynamic");
          } catch {
            continue;
          }
          return ((globalThis as any)[key] = createRequire(found)(found));
        }
        throw new Error(`ipam: cannot find the pulumi-ipam package from ${process.cwd()}: install it in the Pulumi program's directory (npm install pulumi-ipam); the provider resolves "pulumi-ipam/dynamic" from there at run time`);
      };
      for (const method of ["check", "diff", "create", "read", "update", "delete"]) provider[method] = async (...a: any[]) => load()[kind][method === "delete" ? "remove" : method](...a);
      return load().configureConnection(request.config);
    },
  };
  return provider as pulumi.dynamic.ResourceProvider;
}

import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type * as pulumi from "@pulumi/pulumi";

const here = dirname(fileURLToPath(import.meta.url));
/** Absolute path of the compiled provider implementation (dist/), from dist/sdk or from the sdk sources. */
export const implementationPath = join(basename(dirname(here)) === "dist" ? join(here, "..", "..") : join(here, ".."), "dist", "provider", "dynamic", "index.js");

/**
 * A provider whose serialized closure holds only a path string: each method loads the compiled
 * implementation inside the host (require(esm), Node >= 22.12) and delegates. Capturing a pool,
 * schema or config here would break serialization or leak the connection string into state.
 */
export function lazyProvider(kind: "subnet" | "allocation"): pulumi.dynamic.ResourceProvider {
  const path = implementationPath;
  const load = () => (process as any).getBuiltinModule("node:module").createRequire(path)(path);
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

import { createRequire } from "node:module";
import type * as pulumi from "@pulumi/pulumi";

const load = createRequire(import.meta.url);

/**
 * The provider object of a kind: the exports of the package's `host/<kind>.cjs`, loaded through the
 * CommonJS cache so that the SDK's closure serializer names it by module (`require("pulumi-ipam/
 * host/allocation.cjs")`) wherever the package is installed under node_modules, and copies its one
 * function otherwise (host/lazyProvider.cjs says why both forms hold no path of this machine).
 * Loaded by the package's own name (self-reference), so the name the serializer finds is the
 * package's exports entry, from dist/ and from the sources alike.
 */
export function lazyProvider(kind: "subnet" | "allocation"): pulumi.dynamic.ResourceProvider {
  return load(`pulumi-ipam/host/${kind}.cjs`) as pulumi.dynamic.ResourceProvider;
}

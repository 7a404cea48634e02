import type { ResourceState } from "../../harness/engine/checkpoint.js";
import { stripSecrets } from "../../harness/engine/secrets.js";
import type { Props } from "../../harness/providerHost.js";

/**
 * State as pulumi-ipam 0.1.0 wrote it (issue 12): the serialized provider named the compiled
 * implementation by absolute path, and outputs carried no database identity (`__database`) and
 * no stack identity (`__stack`). The text below is what the SDK's closure serializer produced
 * for 0.1.0's sdk/implementation.ts (captured from that release), with the path and kind filled in.
 */
export function legacyProvider(kind: "subnet" | "allocation", implementationPath: string): string {
  const method = (fn: string, params: string, body: string) => `function ${fn}(${params}) {
  return (function() {
    with({ load: __f2, kind: ${JSON.stringify(kind)}, this: undefined, arguments: undefined }) {

return ${body};

    }
  }).apply(undefined, undefined).apply(this, arguments);
}
`;
  return `exports.handler = __f0;

var __provider = {configure: __f1, check: __f3, diff: __f4, create: __f5, read: __f6, update: __f7, delete: __f8};

function __f2() {
  return (function() {
    with({ path: ${JSON.stringify(implementationPath)}, this: undefined, arguments: undefined }) {

return () => process.getBuiltinModule("node:module").createRequire(path)(path);

    }
  }).apply(undefined, undefined).apply(this, arguments);
}

function __f1(__0) {
  return (function() {
    with({ load: __f2, this: undefined, arguments: undefined }) {

return async (req) => load().configureConnection(req.config);

    }
  }).apply(undefined, undefined).apply(this, arguments);
}

${method("__f3", "__0, __1", "async (olds, news) => load()[kind].check(olds, news)")}
${method("__f4", "__0, __1, __2", "async (id, olds, news) => load()[kind].diff(id, olds, news)")}
${method("__f5", "__0", "async (inputs) => load()[kind].create(inputs)")}
${method("__f6", "__0, __1", "async (id, props) => load()[kind].read(id, props)")}
${method("__f7", "__0, __1, __2", "async (id, olds, news) => load()[kind].update(id, olds, news)")}
${method("__f8", "__0, __1", "async (id, props) => load()[kind].remove(id, props)")}
function __f0() {
  return (function() {
    with({ provider: __provider, this: undefined, arguments: undefined }) {

return () => provider;

    }
  }).apply(undefined, undefined).apply(this, arguments);
}
`;
}

/** The hidden keys 0.1.0 wrote besides the user-visible outputs (recorded from that release). */
export const LEGACY_HIDDEN_KEYS = {
  subnet: ["__claim", "__inputs", "__owner", "__poolsExplicit", "__provider", "__scope"],
  allocation: ["__claim", "__inputs", "__owner", "__provider", "__scope"],
} as const;

/**
 * Turn outputs written by this release for a resource registered as 0.1.0 registered it (no
 * `__stack` input) into 0.1.0's shape: no `__database`, the absolute-path provider.
 */
export function asLegacyOutputs(kind: "subnet" | "allocation", outputs: Props, implementationPath: string): Props {
  const { __database: _database, __stack: _stack, ...rest } = outputs;
  return { ...rest, __provider: legacyProvider(kind, implementationPath) };
}

/**
 * A checkpoint's resources (written by this release) as 0.1.0 left them: no stack identity resource,
 * no `__stack` input or dependency, no `__database`, the provider named by `implementationPath`, and
 * no `additionalSecretOutputs` (0.1.0 listed none, so its `__inputs` copy was plain).
 */
export function asDeployedBy010(saved: readonly ResourceState[], implementationPath: string): ResourceState[] {
  const identityUrn = saved.find((r) => r.type.endsWith(":StackIdentity"))?.urn;
  return saved
    .filter((r) => r.urn !== identityUrn)
    .map((r): ResourceState => {
      if (!r.type.startsWith("pulumi-nodejs:dynamic/ipam:")) return r;
      const provider = legacyProvider(r.type.endsWith(":Subnet") ? "subnet" : "allocation", implementationPath);
      const { __stack: _s, ...inputs } = r.inputs;
      const { __stack: _t, __database: _d, ...outputs } = r.outputs;
      const dependencies = (r.dependencies ?? []).filter((urn) => urn !== identityUrn);
      const { __stack: _p, ...propertyDependencies } = r.propertyDependencies ?? {};
      const { additionalSecretOutputs: _a, ...rest } = r;
      const plainCopy = outputs.__inputs === undefined ? {} : { __inputs: stripSecrets(outputs.__inputs) };
      return { ...rest, inputs: { ...inputs, __provider: provider }, outputs: { ...outputs, ...plainCopy, __provider: provider }, dependencies, propertyDependencies };
    });
}

import type * as pulumi from "@pulumi/pulumi";

/**
 * A provider whose serialized closure holds no path and no value from this machine: it finds the
 * compiled implementation by package name inside the host, at call time, and lets it install the
 * methods. The SDK host uses the `__provider` stored in state for Read and Delete, so whatever it
 * names must resolve from any checkout that later runs the stack (docs/identity.md). Capturing a
 * pool, schema or config here would break serialization or leak the connection string into state.
 *
 * Everything the text uses is a global (`process`, `globalThis`), a literal, or `k`: the closure
 * serializer copies the values of captured variables into the text it stores.
 *
 * The text is kept short (issue 25): it is stored twice in every resource's state (inputs, and the
 * outputs the host echoes), the engine rewrites the whole checkpoint per step (bench scenario 13),
 * and it travels in every Check and Create request and response (scenario 7). The serializer copies
 * the compiled function's source text, indentation included, and wraps each function in ~200
 * characters of its own; so the text is one function, `configure`, written on one line (tsc keeps a
 * one-line function body on one line as long as it holds no nested statement block), with short
 * names, and no comment inside it.
 *
 * What the one line does, in order:
 * - Installs check/diff/create/read/update/delete as stubs that return `p`, before anything can fail:
 *   the host caches the provider before it configures it (cmd/dynamic-provider `getProvider`), and a
 *   missing method would be skipped (delete reports success, check passes anything). When the
 *   package loads, `install` replaces them; when it does not, each keeps failing with the reason.
 * - `p`, the promise `configure` returns: the module cached on the `Symbol.for("pulumi-ipam/dynamic")` global (texts of earlier
 *   releases share it), else `pulumi-ipam/dynamic` (an exports entry) resolved from the program
 *   directory (the host's working directory, self-reference included), then from where the host's
 *   own script lives (the program's node_modules), as given and with links resolved; then loaded,
 *   cached, and asked to `install` kind `k`'s methods and configure the connection.
 * - `x` is set only once the package was found, so a package that was found but fails to load (or
 *   to install) keeps its own error instead of being reported as not found.
 */
export function lazyProvider(k: "subnet" | "allocation"): pulumi.dynamic.ResourceProvider {
  return {
    configure: function (this: any, r: any) { let x: any, p: any; "check diff create read update delete".split(" ").map(m => this[m] = () => p); return p = (async () => { const P: any = process, g: any = globalThis, n = "pulumi-ipam/dynamic", s = Symbol.for(n), c = P.cwd(), h = P.argv[1] ?? c, q = P.getBuiltinModule("module").createRequire(`${c}/`); x = g[s] ?? q.resolve(n, { paths: [c, h, P.getBuiltinModule("fs").realpathSync(h)] }); return (g[s] ??= q(x)).install(this, k, r); })().catch(e => { throw x ? e : Error(`ipam: cannot find the pulumi-ipam package from ${process.cwd()}; npm install it there`); }); },
  } as pulumi.dynamic.ResourceProvider;
}

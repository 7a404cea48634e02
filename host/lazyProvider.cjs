"use strict";
/**
 * The provider object every Subnet and IpAllocation hands the SDK: what the SDK serializes into the
 * resource's `__provider`, and what the SDK's provider host later runs for every call on that
 * resource (Check, Diff, Create, Update from the new text; Read and Delete from the stored one).
 *
 * How it is stored. The SDK's closure serializer (runtime/closure/createClosure.js) writes a value
 * that is the exports of a module loaded from a `node_modules` directory as `require("<package
 * path>")`, not as its code. `allocation.cjs` and `subnet.cjs` export this object, so a program with
 * pulumi-ipam installed stores 271 characters: `require("pulumi-ipam/host/allocation.cjs")`, which
 * the host resolves from its working directory, the program's. A package that is not under a
 * `node_modules` (linked with `npm link` or a `file:` dependency, or this repository's own examples)
 * is a local module to the serializer, which then copies this object's code: the function below,
 * written so that the copy also holds no path and no value from this machine (docs/identity.md).
 * Every Subnet's and IpAllocation's state holds the text twice (inputs, and the outputs the host
 * echoes), the engine rewrites the checkpoint on every step, and the text travels in every request:
 * its length is paid per resource and per step (bench scenarios 7 and 13).
 *
 * The copied form is one function, `configure`, on one line, short names, nothing inside it but
 * globals (`process`, `globalThis`), literals and `k` (the serializer copies the values of captured
 * variables into the text). What it does, in order:
 * - Installs check/diff/create/read/update/delete as stubs that return `p`, before anything can fail:
 *   the host caches the provider before it configures it (cmd/dynamic-provider `getProvider`), and a
 *   missing method would be skipped (delete reports success, check passes anything). When the
 *   package loads, `install` replaces them; when it does not, each keeps failing with the reason.
 * - `p`, the promise `configure` returns: the module cached on the `Symbol.for("pulumi-ipam/dynamic")`
 *   global (texts of earlier releases share it), else `pulumi-ipam/dynamic` (an exports entry)
 *   resolved from the program directory (the host's working directory, self-reference included), then
 *   from where the host's own script lives (the program's node_modules), as given and with links
 *   resolved; then loaded, cached, and asked to `install` kind `k`'s methods and configure the
 *   connection.
 * - `x` is set only once the package was found, so a package that was found but fails to load (or
 *   to install) keeps its own error instead of being reported as not found.
 *
 * Plain CommonJS, not compiled: the serializer names a module by the `require` cache, which holds
 * CommonJS modules; and its path in the package is its name in state, so it lives outside `dist/`.
 * Its exports entries (package.json) are a contract with every state that names them.
 */
exports.lazyProvider = (k) => ({
  configure: function (r) { let x, p; "check diff create read update delete".split(" ").map(m => this[m] = () => p); return p = (async () => { const P = process, g = globalThis, n = "pulumi-ipam/dynamic", s = Symbol.for(n), c = P.cwd(), h = P.argv[1] ?? c, q = P.getBuiltinModule("module").createRequire(`${c}/`); x = g[s] ?? q.resolve(n, { paths: [c, h, P.getBuiltinModule("fs").realpathSync(h)] }); return (g[s] ??= q(x)).install(this, k, r); })().catch(e => { throw x ? e : Error(`ipam: cannot find the pulumi-ipam package from ${process.cwd()}; npm install it there`); }); },
});

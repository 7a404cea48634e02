import { readFile, stat } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { InvalidInputError } from "../../core/errors.js";
import { validateSnapshot } from "../../core/snapshot.js";
import { withIpam } from "../databaseSelection.js";
import { streamPrivateFile } from "../privateFile.js";
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
    .argument("<file>", "the JSON file ('-' for stdin)")
    .option("--new-ids", "assign new ids instead of keeping the file's (to merge into a database that already uses them)")
    .option("--check", "only validate the file; touch no database")
    .option("--json", "print the result as JSON")
    .action(async (file: string, options: { newIds?: boolean; check?: boolean; json?: boolean }, command: Command) => {
      // Validated before connecting, so a bad file fails fast; the store takes this result as it is
      // (validated once), and the parsed file is not kept beside it.
      const valid = validateSnapshot(await readSnapshotFile(file));
      if (options.check) {
        const summary = { valid: true, subnets: valid.subnets.length, allocations: valid.allocations.length };
        return options.json ? printJson(summary) : printLine(`valid: ${summary.subnets} subnet(s), ${summary.allocations} allocation(s)`);
      }
      return withIpam(command, "write", async (ipam) => {
        let bar: Progress | undefined;
        const result = await ipam
          .importSnapshot(valid, {
            newIds: options.newIds ?? false,
            onProgress: (done, total) => {
              bar ??= startProgress("importing", total);
              bar.update(done);
            },
          })
          .finally(() => bar?.stop());
        if (options.json) return printJson(result);
        printLine(`imported ${result.subnets} subnet(s), ${result.allocations} allocation(s), ${result.addresses} address(es)${options.newIds ? " under new ids" : " with their ids"}`);
      });
    });
}

/** Resolves once stdout has taken the chunk, or has room for more (a slow reader slows the export, not memory). */
function writeStdout(chunk: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(chunk, (error) => (error ? reject(error) : resolve()));
  });
}

/**
 * The largest snapshot file read: JavaScript cannot hold a longer string (V8's limit is 2^29 - 24
 * characters), and a bigger file failed with "Cannot create a string longer than..." after reading
 * it all. 512 MiB holds about 1.5M allocations in the export's layout.
 */
export const MAX_SNAPSHOT_BYTES = 512 * 2 ** 20;

const tooLarge = (file: string) =>
  InvalidInputError.of("file", `${file} is larger than ${MAX_SNAPSHOT_BYTES / 2 ** 20} MiB, the most one import reads; split the export by namespace (ipam export --namespace)`);

/** @throws InvalidInputError (field `file`) for unreadable, oversized or non-JSON input */
async function readSnapshotFile(file: string): Promise<unknown> {
  let content: string;
  try {
    if (file !== "-" && (await stat(file)).size > MAX_SNAPSHOT_BYTES) throw tooLarge(file);
    content = file === "-" ? await readStdin(file) : await readFile(file, "utf8");
  } catch (error) {
    if (error instanceof InvalidInputError) throw error;
    throw InvalidInputError.of("file", `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? "error"}`);
  }
  try {
    return JSON.parse(content);
  } catch (error) {
    throw InvalidInputError.of("file", `${file} is not JSON: ${(error as Error).message.slice(0, 120)}`);
  }
}

/** Standard input up to MAX_SNAPSHOT_BYTES; more is refused without reading on. */
async function readStdin(file: string): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > MAX_SNAPSHOT_BYTES) {
      process.stdin.destroy();
      throw tooLarge(file);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

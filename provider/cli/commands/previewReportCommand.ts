import { readFile } from "node:fs/promises";
import { text } from "node:stream/consumers";
import type { Command } from "commander";
import { readPreviewFacts } from "../../store/reports/index.js";
import { selectDatabase, type GlobalOptions } from "../databaseSelection.js";
import { EXIT, ExitCode, UsageError } from "../exitCodes.js";
import { ipamSteps } from "../previewReport/ipamSteps.js";
import { planPreview, PREDICTION_NOTE, type PreviewReport } from "../previewReport/previewPlan.js";
import { parsePreviewDigest, parseStackExport } from "../previewReport/pulumiPreview.js";
import { renderMarkdown, renderTerminal } from "../previewReport/renderReport.js";
import { printJson, printLine } from "../terminal.js";

interface Options {
  state?: string;
  markdown?: boolean;
  json?: boolean;
}

/**
 * `ipam preview-report <preview.json>`: what a `pulumi preview --json` would do to addresses, read
 * against the database in one read-only transaction (docs/ci.md). Exit 0, 3 when it predicts that
 * `pulumi up` would fail, 2 for a bad file or flags, 1 when the database cannot be read.
 */
export function registerPreviewReportCommand(program: Command): void {
  program
    .command("preview-report")
    .description("what a `pulumi preview --json` would do to IP addresses (released, taken, utilisation, predicted failures); reads the database read-only")
    .argument("<preview>", "the output of `pulumi preview --json` ('-' for stdin)")
    .option("--state <file>", "the stack's `pulumi stack export`, for steps the preview shows without their old state")
    .option("--markdown", "markdown, for a pull-request comment or a CI job summary")
    .option("--json", "print JSON")
    .action(async (file: string, options: Options, command: Command) => {
      if (options.markdown === true && options.json === true) throw new UsageError("--markdown and --json exclude each other");
      const digest = parsePreviewDigest(await readInput(file), file);
      const state = options.state === undefined ? [] : parseStackExport(await readInput(options.state), options.state);
      const steps = ipamSteps(digest.steps ?? [], state);
      // Nothing of ours changes: no database needed (a CI job on a change elsewhere stays green without one).
      const report: PreviewReport =
        steps.length === 0
          ? { prediction: PREDICTION_NOTE, entries: [], subnets: [], failures: [] }
          : await planPreview(steps, async (requests) => {
              const { url } = await selectDatabase();
              return readPreviewFacts(url, command.optsWithGlobals<GlobalOptions>().schema, requests);
            });
      if (options.json === true) printJson(report);
      else printLine(options.markdown === true ? renderMarkdown(report) : renderTerminal(report));
      if (report.failures.length > 0) throw new ExitCode(EXIT.predictedFailure);
    });
}

/** @throws UsageError when the file cannot be read (exit 2: bad input) */
async function readInput(file: string): Promise<string> {
  try {
    return file === "-" ? await text(process.stdin) : await readFile(file, "utf8");
  } catch (error) {
    throw new UsageError(`${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

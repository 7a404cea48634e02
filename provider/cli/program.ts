import { Command } from "commander";
import { registerAllocationCommands } from "./commands/allocationCommands.js";
import { registerDbCommand } from "./commands/dbCommand.js";
import { registerDemoCommand } from "./commands/demoCommand.js";
import { registerHistoryCommand } from "./commands/historyCommand.js";
import { registerIdentityCommand } from "./commands/identityCommand.js";
import { registerMapCommand } from "./commands/mapCommand.js";
import { registerMigrateCommand } from "./commands/migrateCommand.js";
import { registerPreviewReportCommand } from "./commands/previewReportCommand.js";
import { registerSnapshotCommands } from "./commands/snapshotCommands.js";
import { registerSubnetCommand } from "./commands/subnetCommand.js";
import { registerUsageCommand } from "./commands/usageCommand.js";
import { registerServeCommand } from "./commands/serveCommand.js";
import { registerRestoreCommands } from "./commands/restoreCommands.js";

/**
 * The `ipam` command tree. exitOverride comes first so every subcommand inherits it: parse errors
 * become exceptions that `run` turns into exit code 2 instead of commander exiting with 1.
 */
export function buildProgram(): Command {
  const program = new Command("ipam")
    .description(
      "Operator CLI for pulumi-ipam. Database: $IPAM_DATABASE_URL when set, otherwise the local embedded PostgreSQL (see `ipam db`).",
    )
    .exitOverride()
    .showHelpAfterError("(add --help for usage)")
    .option("--schema <name>", "PostgreSQL schema holding the IPAM tables", "ipam");
  registerDbCommand(program);
  registerMigrateCommand(program);
  registerIdentityCommand(program);
  registerSubnetCommand(program);
  registerAllocationCommands(program);
  registerUsageCommand(program);
  registerMapCommand(program);
  registerHistoryCommand(program);
  registerSnapshotCommands(program);
  registerDemoCommand(program);
  registerServeCommand(program);
  registerPreviewReportCommand(program);
  registerRestoreCommands(program);
  return program;
}

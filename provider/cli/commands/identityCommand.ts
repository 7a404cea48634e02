import type { Command } from "commander";
import { withIpam } from "../databaseSelection.js";
import { printJson, printLine } from "../terminal.js";

/**
 * `ipam identity`: the database's identity (migration 0006), the id Pulumi state records for each
 * resource and names in DATABASE_MISMATCH errors (docs/identity.md). Applies pending migrations
 * first, as the provider does: a database from before 0006 gets its identity here.
 */
export function registerIdentityCommand(program: Command): void {
  program
    .command("identity")
    .description("print the database's identity: the id Pulumi state records for every resource it holds (docs/identity.md)")
    .option("--json", "print JSON")
    .action((options: { json?: boolean }, command: Command) =>
      withIpam(command, "write", async (ipam) => {
        const identity = await ipam.installationId();
        if (options.json) return printJson({ identity });
        printLine(identity);
      }),
    );
}

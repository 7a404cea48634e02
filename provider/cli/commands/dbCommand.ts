import type { Command } from "commander";
import { ensureLocalDatabase, localDatabaseStatus, stopLocalDatabase } from "../../localDatabase/index.js";
import { DATABASE_URL_VARIABLE } from "../databaseSelection.js";
import { note, paint, printJson, printLine, renderFields } from "../terminal.js";

/**
 * `ipam db start|stop|status|url`: the local embedded PostgreSQL the provider uses when no database
 * is configured. These are explicit operator requests, so they work under CI=true too (the
 * provider refuses to start it there on its own).
 */
export function registerDbCommand(program: Command): void {
  const db = program.command("db").description("the local embedded PostgreSQL (the default database; data under ~/.pulumi-ipam or $IPAM_HOME)");

  db.command("start")
    .description("start the local database (initialising it the first time); it keeps running detached and is reused")
    .option("--json", "print the status as JSON")
    .action(async (options: { json?: boolean }) => {
      await ensureLocalDatabase({ allowInCi: true });
      const status = await localDatabaseStatus();
      if (options.json) return printJson(status);
      printLine(`local database running (data and its socket under ${status.home}; no TCP port)`);
      warnWhenOverridden();
    });

  db.command("stop")
    .description("stop the local database (its data stays)")
    .option("--json", "print the result as JSON")
    .action(async (options: { json?: boolean }) => {
      const stopped = await stopLocalDatabase();
      if (options.json) return printJson({ stopped });
      printLine(stopped ? "local database stopped" : "local database was not running");
    });

  db.command("status")
    .description("whether the local database is initialised and running, and where")
    .option("--json", "print the status as JSON")
    .action(async (options: { json?: boolean }) => {
      const status = await localDatabaseStatus();
      if (options.json) return printJson(status);
      printLine(
        renderFields([
          ["home", status.home],
          ["initialised", status.initialised ? "yes" : "no"],
          ["running", status.running ? paint("green", "yes") : paint("yellow", "no")],
          ["port", status.port === null ? "-" : String(status.port)],
        ]),
      );
      warnWhenOverridden();
    });

  db.command("url")
    .description("print the local database's connection URL, password included (starts it if needed); the only command that prints a URL")
    .option("--json", 'print {"url": ...}')
    .action(async (options: { json?: boolean }) => {
      const url = await ensureLocalDatabase({ allowInCi: true });
      if (options.json) return printJson({ url });
      printLine(url);
    });
}

function warnWhenOverridden(): void {
  if (process.env[DATABASE_URL_VARIABLE]) note(`note: ${DATABASE_URL_VARIABLE} is set, so data commands use that database, not this local one`);
}

import type { Command } from "commander";
import { loadMigrations, migrate } from "../../store/schema/migrate.js";
import { selectDatabase, type GlobalOptions } from "../databaseSelection.js";
import { note, printJson, printLine } from "../terminal.js";

/** `ipam migrate`: apply pending schema migrations and say which ran. */
export function registerMigrateCommand(program: Command): void {
  program
    .command("migrate")
    .description("apply pending schema migrations (commands that change data do this themselves; reads never do)")
    .option("--json", "print the result as JSON")
    .action(async (options: { json?: boolean }, command: Command) => {
      const { schema } = command.optsWithGlobals<GlobalOptions>();
      const database = await selectDatabase();
      const applied = await migrate(database.url, schema);
      const shipped = (await loadMigrations()).map((m) => `${String(m.version).padStart(4, "0")}_${m.name}`);
      if (options.json) return printJson({ schema, applied, latest: shipped.at(-1) ?? null });
      note(`database: ${database.description}`);
      if (applied.length === 0) printLine(`schema ${schema} is up to date (${shipped.at(-1) ?? "no migrations"})`);
      for (const name of applied) printLine(`applied ${name}`);
    });
}

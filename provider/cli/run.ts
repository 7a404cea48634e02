import { CommanderError } from "commander";
import { displayJson, displayText } from "../core/displayText.js";
import { IpamError } from "../core/errors.js";
import { redact } from "../core/redact.js";
import { EXIT, ExitCode, UsageError } from "./exitCodes.js";
import { buildProgram } from "./program.js";
import { CapacityExceededError } from "./capacityGate.js";

/**
 * Run one command line and return its exit code: 0 ok, 1 failed (the core refused or the database
 * failed: `error: CODE: message` on stderr, JSON with --json), 2 bad usage.
 */
export async function run(argv: readonly string[]): Promise<number> {
  const json = argv.includes("--json");
  try {
    await (await buildProgram(argv)).parseAsync([...argv]);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (error instanceof CapacityExceededError) {
      process.stderr.write(`capacity: ${displayText(error.message)}\n`);
      return EXIT.capacity;
    }
    if (error instanceof ExitCode) return error.code;
    if (error instanceof UsageError) {
      process.stderr.write(`error: ${displayText(error.message)}\n`);
      return EXIT.usage;
    }
    await reportFailure(error, json);
    return EXIT.failed;
  }
}

async function reportFailure(error: unknown, json: boolean): Promise<void> {
  if (error instanceof IpamError) {
    const hint = await missingSchemaHint(error);
    if (json) {
      process.stderr.write(`${displayJson({ error: { ...error.toJSON(), ...(hint ? { hint } : {}) } })}\n`);
      return;
    }
    const issues = "issues" in error && Array.isArray(error.issues) && error.issues.length > 1;
    const lines = issues ? (error.issues as { field: string; reason: string }[]).map((issue) => `  ${issue.field}: ${issue.reason}`) : [];
    process.stderr.write(`error: ${error.code}: ${issues ? "invalid input" : error.message}\n${lines.map((line) => `${line}\n`).join("")}`);
    if (hint) process.stderr.write(`hint: ${hint}\n`);
    return;
  }
  // Not ours: the text may come from a driver or the OS, so cut anything that looks like a URL or password.
  const message = displayText(redact(error instanceof Error ? error.message : String(error)).slice(0, 500));
  if (json) process.stderr.write(`${displayJson({ error: { code: "INTERNAL", message } })}\n`);
  else process.stderr.write(`error: INTERNAL: ${message}\n`);
}

async function missingSchemaHint(error: IpamError): Promise<string | undefined> {
  const sqlState = (error as { sqlState?: unknown }).sqlState;
  if (typeof sqlState !== "string") return undefined;
  // Only a database's failure carries a SQLSTATE: the store's code (slonik) is loaded by then, and not before.
  const { kindOfState } = await import("../store/database/databaseErrors.js");
  const kind = kindOfState(sqlState);
  return kind === "undefined-table" || kind === "undefined-schema" ? "this schema holds no IPAM tables yet: run `ipam migrate` (or any command that changes data)" : undefined;
}

import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { ConflictError, InvalidInputError } from "../../core/errors.js";
import { allocationsInState, isSecret } from "../../core/stateExport.js";
import { subnetsInState } from "../../core/stateSubnets.js";
import { ownerKey } from "../../dynamic/resourceIdentity.js";
import { subnetKey } from "../../dynamic/subnetProvider.js";
import type { FailoverPolicy, FenceStatus, ReconcileInput, ReconcileItem, ReconcileReport, ReconcileSubnetItem } from "../../store/restore/index.js";
import { withIpam } from "../databaseSelection.js";
import { paint, printJson, printLine, renderFields } from "../terminal.js";

/**
 * After a restore or a failover (docs/operations.md): `ipam reconcile --from-state <exports...>`,
 * `ipam db fence`, `ipam db accept-restore`, `ipam db failover-policy`. Each needs the schema
 * owner's login: the least-privilege role may not re-open writes.
 */
export function registerRestoreCommands(program: Command): void {
  program
    .command("reconcile")
    .description("after a restore or failover: re-create every subnet and re-assert every allocation the given `pulumi stack export` files hold, report conflicts, re-open writes")
    .requiredOption("--from-state <files...>", "`pulumi stack export` files (one per stack; all stacks that use this database)")
    .option("--dry-run", "change nothing; report what would be restored and every conflict")
    .option("--json", "print the report as JSON")
    .action(async (options: { fromState: string[]; dryRun?: boolean; json?: boolean }, command: Command) => {
      const states = await Promise.all(options.fromState.map(readStateFile));
      const input: ReconcileInput = { subnets: states.flatMap((state) => state.subnets), allocations: states.flatMap((state) => state.allocations) };
      const report = await withIpam(command, "write", (ipam) => ipam.reconcile(input, { dryRun: options.dryRun === true }));
      if (options.json) printJson(report);
      else printReport(report);
      const unresolved = report.conflicts.length + report.skipped.length + report.subnets.conflicts.length + report.subnets.skipped.length;
      if (unresolved > 0) {
        throw new ConflictError("from-state", `${unresolved} subnet(s) and allocation(s) were not re-asserted (listed above); nothing was overwritten`, []);
      }
    });

  const db = program.commands.find((candidate) => candidate.name() === "db") ?? program.command("db");
  db.command("fence")
    .description("whether this database accepts writes, or refuses them after a detected restore or failover")
    .option("--json", "print JSON")
    .action((options: { json?: boolean }, command: Command) =>
      withIpam(command, "read", async (ipam) => {
        const status = await ipam.writeFence();
        if (options.json) return printJson(status);
        printLine(renderFence(status));
      }),
    );

  db.command("accept-restore")
    .description("re-open writes after a detected restore or failover without reconciling (you know nothing issued was lost, or accept the loss)")
    .option("--json", "print JSON")
    .action((options: { json?: boolean }, command: Command) =>
      withIpam(command, "write", async (ipam) => {
        const detected = await ipam.acceptRestore();
        if (options.json) return printJson({ detected, reopened: true });
        printLine(detected === null ? "nothing was detected: writes were already open" : `accepted: ${describe(detected)}; writes are open again, new ids start past the old ones`);
      }),
    );

  db.command("failover-policy")
    .description("manual (default): a promoted standby refuses writes until an operator acts; synchronous: every standby that can be promoted is synchronous, accept a new timeline")
    .argument("<policy>", "manual | synchronous")
    .action((policy: string, _options: unknown, command: Command) =>
      withIpam(command, "write", async (ipam) => {
        await ipam.setFailoverPolicy(policy as FailoverPolicy);
        printLine(`failover policy: ${policy}`);
      }),
    );
}

async function readStateFile(file: string): Promise<{ subnets: ReconcileSubnetItem[]; allocations: ReconcileItem[] }> {
  const path = resolve(file);
  let document: unknown;
  try {
    document = JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    throw InvalidInputError.of("from-state", `${path}: ${(error as NodeJS.ErrnoException).code ?? "not JSON"}`);
  }
  const subnets = subnetsInState(path, document).map((subnet) => {
    const inputs = subnet.keyInputs;
    // The key the provider created with (subnetProvider `subnetKey`); none when the state cannot say.
    const knowable = inputs !== null && typeof inputs.__owner === "string" && !["cidr", "namespace", "parentId", "prefixLength"].some((key) => isSecret(inputs[key]));
    return { ...subnet, idempotencyKey: knowable ? subnetKey(inputs) : null };
  });
  const allocations = allocationsInState(path, document).map((allocation) => {
    const inputs = allocation.keyInputs;
    const hidden = { __owner: inputs.__owner, __scope: inputs.__scope, __stack: inputs.__stack };
    // The key the provider asks with (allocationProvider `request`): retries and replacements find it.
    const strategy = typeof inputs.strategy === "string" ? inputs.strategy : "sequential";
    const address = typeof inputs.address === "string" ? inputs.address : "";
    const knowable = typeof inputs.__owner === "string" && !isSecret(inputs.strategy) && !isSecret(inputs.address);
    const idempotencyKey = knowable ? ownerKey(hidden, `${strategy}:${address}`) : null;
    return { ...allocation, idempotencyKey };
  });
  return { subnets, allocations };
}

function describe(problem: NonNullable<FenceStatus["problem"]>): string {
  if (problem.kind === "timeline") return `the server moved from timeline ${problem.recordedTimeline} to ${problem.currentTimeline} (failover or physical restore)`;
  if (problem.kind === "copied") return "the database was restored from a logical backup or copied";
  return "the write fence was missing";
}

function renderFence(status: FenceStatus): string {
  return renderFields([
    ["writes", status.writable ? paint("green", "open") : paint("red", "refused (DATABASE_RESTORED)")],
    ["detected", status.problem === null ? "-" : describe(status.problem)],
    ["failover policy", status.policy],
    ["recorded", `${status.recordedAt} by ${status.recordedBy} (timeline ${status.timeline})`],
  ]);
}

function printReport(report: ReconcileReport): void {
  const verb = report.dryRun ? "would re-assert" : "re-asserted";
  printLine(report.detected === null ? "no restore was detected" : `detected: ${describe(report.detected)}`);
  const subnets = report.subnets;
  printLine(`${report.dryRun ? "would re-create" : "re-created"} ${subnets.restored.length} subnet(s); ${subnets.alreadyHeld.length} already held as the state says`);
  for (const item of subnets.restored) {
    const empty = item.leftEmpty.length === 0 ? "" : `  (${item.leftEmpty.join(" and ")} secret in state: left empty, the stack's next \`pulumi up\` writes them back)`;
    printLine(`  subnet ${item.subnetId} ${item.cidr}${item.parentId === null ? "" : ` in ${item.parentId}`}  ${item.urn}${empty}`);
  }
  for (const conflict of subnets.conflicts) {
    const database = conflict.database;
    const held = database === null ? "" : "allocationId" in database ? `; database: allocation ${database.allocationId} of ${database.owner}` : `; database: subnet ${database.subnetId} (${database.cidr})`;
    printLine(paint("red", `  conflict: ${conflict.reason}`));
    printLine(`    state: subnet ${conflict.subnetId} (${conflict.state.cidr}) of ${conflict.urn}${held}`);
  }
  for (const skipped of subnets.skipped) printLine(paint("yellow", `  skipped subnet ${skipped.subnetId} (${skipped.urn}): ${skipped.reason}`));
  printLine(`${verb} ${report.restored.length} allocation(s); ${report.alreadyHeld.length} already held as the state says`);
  for (const item of report.restored) printLine(`  ${item.allocationId} ${item.addresses.join(", ")}  ${item.urn}`);
  for (const conflict of report.conflicts) {
    const held = conflict.database === null ? "" : `; database: allocation ${conflict.database.allocationId} of ${conflict.database.owner}`;
    printLine(paint("red", `  conflict: ${conflict.reason}`));
    printLine(`    state: allocation ${conflict.allocationId} of ${conflict.state.owner} (${conflict.urn})${held}`);
  }
  for (const skipped of report.skipped) printLine(paint("yellow", `  skipped ${skipped.allocationId} (${skipped.urn}): ${skipped.reason}`));
  printLine(report.dryRun ? "dry run: nothing was changed" : report.reopened ? "writes are open" : "writes stay refused");
}

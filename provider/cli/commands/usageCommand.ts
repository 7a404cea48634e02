import type { Command } from "commander";
import type { TreeTruncation } from "../../store/reports/subnetTree.js";
import type { SubnetTreeReport } from "../../store/reports/usageTree.js";
import { CapacityExceededError, percentThreshold, subnetsAbove } from "../capacityGate.js";
import { withIpam } from "../databaseSelection.js";
import { subnetIdOf } from "../subnetReference.js";
import { printJson, printLine } from "../terminal.js";
import { writeUsageJson, writeUsageText } from "../usageStream.js";
import { namespaceTotals, renderUsage } from "../usageView.js";

/**
 * `ipam usage [subnet]`: utilization per subnet and namespace, holders, addresses outside pools.
 * One subnet comes with its descendants (children, their children, ...), read at one moment.
 */
export function registerUsageCommand(program: Command): void {
  program
    .command("usage")
    .description("utilization per subnet and namespace with bars, the owners holding addresses, and allocations outside the pools; a subnet with its child subnets as a tree")
    .argument("[subnet]", "one subnet (id or CIDR) and its descendants; default all")
    .option("--namespace <name>", "only this namespace (or: the namespace of the CIDR)")
    .option("--fail-above <percent>", "exit with code 3, naming each one, when a subnet's pool use is above this percentage (a CI capacity gate)", percentThreshold)
    .option("--json", "print JSON")
    .action((reference: string | undefined, options: { namespace?: string; failAbove?: number; json?: boolean }, command: Command) =>
      withIpam(command, "read", async (ipam) => {
        if (reference === undefined) {
          // Pages of LIMITS.pageSize subnets, each read at one moment and costing the same however deep,
          // already in tree order: only totals and column widths are kept, not the reports or the cells.
          const filter = options.namespace === undefined ? {} : { namespace: options.namespace };
          const above = await (options.json ? writeUsageJson : writeUsageText)(ipam, filter, writeStdout, options.failAbove);
          if (above.length > 0) throw new CapacityExceededError(above, String(options.failAbove! / 100));
          return;
        }
        const { reports, ...truncation }: { reports: SubnetTreeReport[] } & TreeTruncation = await ipam.usageTreeReport(await subnetIdOf(ipam, reference, options.namespace));
        const above = options.failAbove === undefined ? [] : subnetsAbove(reports, options.failAbove);
        const gate = options.failAbove === undefined ? {} : { failAbove: { percent: options.failAbove / 100, subnets: above } };
        if (options.json) printJson({ namespaces: namespaceTotals(reports), subnets: reports, ...truncation, ...gate });
        else printLine(renderUsage(reports, truncation.truncatedReason));
        if (above.length > 0) throw new CapacityExceededError(above, String(options.failAbove! / 100));
      }),
    );
}

/** Resolves once stdout has taken the chunk (a slow reader slows the report, not memory). */
function writeStdout(chunk: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(chunk, (error) => (error ? reject(error) : resolve()));
  });
}

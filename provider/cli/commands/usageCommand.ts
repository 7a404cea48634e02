import type { Command } from "commander";
import { LIMITS } from "../../core/schemas.js";
import type { TreeTruncation } from "../../store/reports/subnetTree.js";
import type { SubnetUsageReport } from "../../store/reports/usageQueries.js";
import type { SubnetTreeReport } from "../../store/reports/usageTree.js";
import { CapacityExceededError, percentThreshold, subnetsAbove } from "../capacityGate.js";
import { withIpam } from "../databaseSelection.js";
import { subnetIdOf } from "../subnetReference.js";
import { inTreeOrder } from "../subnetTree.js";
import { printJson, printLine } from "../terminal.js";
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
        let reports: SubnetTreeReport[];
        let truncation: TreeTruncation = { truncated: false, truncatedReason: null };
        if (reference === undefined) {
          // Pages of LIMITS.pageSize subnets, each read at one moment and costing the same however deep.
          const unordered: SubnetUsageReport[] = [];
          const filter = options.namespace === undefined ? {} : { namespace: options.namespace };
          for (let after: string | null | undefined; after !== null; ) {
            const page = await ipam.usagePage(filter, { limit: LIMITS.pageSize, ...(after === undefined ? {} : { after }) });
            unordered.push(...page.reports);
            after = page.next;
          }
          reports = inTreeOrder(unordered);
        } else {
          ({ reports, ...truncation } = await ipam.usageTreeReport(await subnetIdOf(ipam, reference, options.namespace)));
        }
        const above = options.failAbove === undefined ? [] : subnetsAbove(reports, options.failAbove);
        const gate = options.failAbove === undefined ? {} : { failAbove: { percent: options.failAbove / 100, subnets: above } };
        if (options.json) printJson({ namespaces: namespaceTotals(reports), subnets: reports, ...truncation, ...gate });
        else printLine(renderUsage(reports, truncation.truncatedReason));
        if (above.length > 0) throw new CapacityExceededError(above, String(options.failAbove! / 100));
      }),
    );
}

import type { Command } from "commander";
import type { Subnet } from "../../core/types.js";
import { Ipam } from "../../store/Ipam.js";
import { ensureLocalDatabase, localDatabaseHome } from "../../localDatabase/index.js";
import { DATABASE_URL_VARIABLE, type GlobalOptions } from "../databaseSelection.js";
import { DEMO_NAMESPACE, DEMO_SUBNETS, stackName, stackPlan, type DemoSubnet } from "../demo/demoPlan.js";
import { UsageError } from "../exitCodes.js";
import { wholeNumber } from "../optionParsers.js";
import { inTreeOrder } from "../subnetTree.js";
import { note, paint, printLine, startProgress, type Progress } from "../terminal.js";
import { renderUsage } from "../usageView.js";
import { writeSubnetMap } from "./mapCommand.js";

interface StackReport {
  readonly stack: string;
  readonly created: number;
  readonly reused: number;
  readonly rolledBack: number;
  readonly addresses: readonly string[];
}

/** `ipam demo`: the main job end to end on the local database. */
export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description("start the local database, create namespace demo, run simulated stacks allocating concurrently, print usage and write a map")
    .option("--stacks <n>", "how many stacks deploy at once (1-32)", wholeNumber, 8)
    .option("--out <file.svg>", "where to write the map of the web subnet", "ipam-demo-map.svg")
    .action(async (options: { stacks: number; out: string }, command: Command) => {
      if (options.stacks < 1 || options.stacks > 32) throw new UsageError("--stacks must be between 1 and 32");
      const { schema } = command.optsWithGlobals<GlobalOptions>();
      const started = performance.now();
      if (process.env[DATABASE_URL_VARIABLE]) note(`note: the demo always uses the local database; ${DATABASE_URL_VARIABLE} is ignored here`);
      note(`starting the local database under ${localDatabaseHome()} (the first run initialises it) …`);
      // The operator asked for the local database explicitly, so it may run under CI=true too.
      const url = await ensureLocalDatabase({ allowInCi: true });
      const ipam = await Ipam.open({ databaseUrl: url, schema, maxConnections: 4 });
      try {
        const subnets = await ensureDemoSubnets(ipam);
        printLine(`namespace ${DEMO_NAMESPACE}: ${Object.values(subnets).map((s) => `${s.cidr} (id ${s.id})`).join(", ")}`);
        const reports = await runStacks(url, schema, subnets, options.stacks);
        printStackSummary(reports);
        const reportsByUsage = [];
        for (const subnet of Object.values(subnets)) reportsByUsage.push(await ipam.usageReport(subnet.id));
        printLine();
        printLine(renderUsage(inTreeOrder(reportsByUsage)));
        const { path } = await writeSubnetMap(ipam, subnets.web.id, options.out);
        printLine();
        printLine(`map of ${subnets.web.cidr} written to ${path}`);
        printLine(`done in ${((performance.now() - started) / 1000).toFixed(1)} s — try: ipam history --owner ${stackName(1)}`);
      } finally {
        await ipam.close();
      }
    });
}

/** Reuse the demo subnets of an earlier run (same CIDR in the namespace), create the missing ones. */
export async function ensureDemoSubnets(ipam: Ipam): Promise<Record<DemoSubnet, Subnet>> {
  const existing = await ipam.listSubnets({ namespace: DEMO_NAMESPACE });
  const result = {} as Record<DemoSubnet, Subnet>;
  for (const [role, input] of Object.entries(DEMO_SUBNETS) as [DemoSubnet, (typeof DEMO_SUBNETS)[DemoSubnet]][]) {
    result[role] = existing.find((subnet) => subnet.cidr === input.cidr) ?? (await ipam.createSubnet({ ...input, namespace: DEMO_NAMESPACE }));
  }
  return result;
}

/** Every stack on its own connection pool, all at once, like parallel CI deployments. */
export async function runStacks(url: string, schema: string, subnets: Record<DemoSubnet, Subnet>, stacks: number): Promise<StackReport[]> {
  const plans = Array.from({ length: stacks }, (_, i) => stackPlan(i + 1, stacks));
  const progress = startProgress(`${stacks} stacks deploying`, plans.reduce((sum, plan) => sum + plan.length, 0));
  const clients = await Promise.all(plans.map(() => Ipam.open({ databaseUrl: url, schema, migrate: false, maxConnections: 2 })));
  try {
    return await Promise.all(plans.map((plan, i) => deployStack(clients[i]!, i + 1, plan, subnets, progress)));
  } finally {
    progress.stop();
    await Promise.all(clients.map((client) => client.close()));
  }
}

async function deployStack(ipam: Ipam, stack: number, plan: ReturnType<typeof stackPlan>, subnets: Record<DemoSubnet, Subnet>, progress: Progress): Promise<StackReport> {
  const name = stackName(stack);
  let created = 0;
  let reused = 0;
  let rolledBack = 0;
  const addresses: string[] = [];
  for (const step of plan) {
    const result = await ipam.allocate({ ...step.request, subnetId: subnets[step.subnet].id, owner: name, idempotencyKey: `${name}/${step.resource}`, description: step.resource });
    if (result.created) created += 1;
    else reused += 1;
    if (step.rollback) {
      await ipam.release(result.allocation.id);
      rolledBack += 1;
    } else {
      addresses.push(...result.allocation.addresses);
    }
    progress.increment();
  }
  if (!process.stderr.isTTY) note(`${name}: ${plan.length} requests done`);
  return { stack: name, created, reused, rolledBack, addresses };
}

function printStackSummary(reports: readonly StackReport[]): void {
  const held = reports.flatMap((report) => report.addresses);
  const distinct = new Set(held).size;
  const created = reports.reduce((sum, report) => sum + report.created, 0);
  const reused = reports.reduce((sum, report) => sum + report.reused, 0);
  const rolledBack = reports.reduce((sum, report) => sum + report.rolledBack, 0);
  printLine(
    `${reports.length} stacks: ${created} new allocation(s), ${reused} returned by idempotency key from an earlier run, ${rolledBack} rolled back and released`,
  );
  const verdict = distinct === held.length ? paint("green", "none held twice") : paint("red", `${held.length - distinct} HELD TWICE`);
  printLine(`${held.length} addresses held by the stacks, ${distinct} distinct: ${verdict}`);
}

import { Command, Help } from "commander";

type Register = (program: Command) => void;

/**
 * One command module: the top-level commands it registers (name → the line `ipam --help` shows
 * for it: its term and description) and how to load it. A module is loaded only when one of its
 * commands runs (or `ipam help <command>` asks for it): loading all of them took half of
 * `ipam import --check`'s start-up (issue 22 item 7), slonik, pg and the local database code
 * among them, for a command that never opens a database. test/cli/lazyCommands.test.ts checks
 * that these lines are what the modules themselves register.
 */
interface CommandModule {
  readonly commands: Readonly<Record<string, { readonly term: string; readonly description: string }>>;
  /** Commands of another module this one adds subcommands to (restore's `db accept-restore`, ...). */
  readonly extends?: readonly string[];
  readonly load: () => Promise<Register>;
}

/** In the order `ipam --help` lists them. */
export const COMMAND_MODULES: readonly CommandModule[] = [
  {
    commands: { db: { term: "db", description: "the local embedded PostgreSQL (the default database; data under ~/.pulumi-ipam or $IPAM_HOME)" } },
    load: async () => (await import("./commands/dbCommand.js")).registerDbCommand,
  },
  {
    commands: { migrate: { term: "migrate [options]", description: "apply pending schema migrations (commands that change data do this themselves; reads never do)" } },
    load: async () => (await import("./commands/migrateCommand.js")).registerMigrateCommand,
  },
  {
    commands: {
      identity: { term: "identity [options]", description: "print the database's identity: the id Pulumi state records for every resource it holds (docs/identity.md)" },
    },
    load: async () => (await import("./commands/identityCommand.js")).registerIdentityCommand,
  },
  {
    commands: { subnet: { term: "subnet", description: "list, show, create, update and delete subnets" } },
    load: async () => (await import("./commands/subnetCommand.js")).registerSubnetCommand,
  },
  {
    commands: {
      alloc: { term: "alloc [options] <subnet>", description: "allocate a specific address, the next free one, a random one, or several at once (all or nothing)" },
      release: { term: "release [options] [allocation]", description: "release an allocation (by id, or by one of its addresses); releasing twice is harmless" },
      resize: {
        term: "resize [options] <allocation>",
        description: "change how many addresses an allocation holds (growing keeps its addresses, shrinking frees the highest)",
      },
    },
    load: async () => (await import("./commands/allocationCommands.js")).registerAllocationCommands,
  },
  {
    commands: {
      usage: {
        term: "usage [options] [subnet]",
        description:
          "utilization per subnet and namespace with bars, the owners holding addresses, and allocations outside the pools; a subnet with its child subnets as a tree",
      },
    },
    load: async () => (await import("./commands/usageCommand.js")).registerUsageCommand,
  },
  {
    commands: {
      map: {
        term: "map [options] <subnet>",
        description: "draw a subnet as an SVG grid: pools, gateway, reserved, allocated blocks coloured by owner, and the blocks of its child subnets",
      },
    },
    load: async () => (await import("./commands/mapCommand.js")).registerMapCommand,
  },
  {
    commands: { history: { term: "history [options]", description: "who allocated, resized and released what, and every subnet change, newest first" } },
    load: async () => (await import("./commands/historyCommand.js")).registerHistoryCommand,
  },
  {
    commands: {
      export: { term: "export [options]", description: 'write every subnet and allocation as JSON ({"format": "pulumi-ipam/v1", ...}), one consistent snapshot' },
      import: {
        term: "import [options] <file>",
        description: "load an export all-or-nothing: validated like the core, ids, addresses and owners kept exactly, conflicts refused",
      },
    },
    load: async () => (await import("./commands/snapshotCommands.js")).registerSnapshotCommands,
  },
  {
    commands: {
      demo: {
        term: "demo [options]",
        description: "start the local database, create namespace demo, run simulated stacks allocating concurrently, print usage and write a map",
      },
    },
    load: async () => (await import("./commands/demoCommand.js")).registerDemoCommand,
  },
  {
    commands: {
      serve: {
        term: "serve [options]",
        description:
          "a read-only web view of the address space (subnet tree, subnets, allocations, history, search), its JSON under /api/v1 and Prometheus /metrics",
      },
    },
    load: async () => (await import("./commands/serveCommand.js")).registerServeCommand,
  },
  {
    commands: {
      "preview-report": {
        term: "preview-report [options] <preview>",
        description:
          "what a `pulumi preview --json` would do to IP addresses (released, taken, utilisation, predicted failures); reads the database read-only",
      },
    },
    load: async () => (await import("./commands/previewReportCommand.js")).registerPreviewReportCommand,
  },
  {
    commands: {
      reconcile: {
        term: "reconcile [options]",
        description:
          "after a restore or failover: re-create every subnet and re-assert every allocation the given `pulumi stack export` files hold, report conflicts, re-open writes",
      },
    },
    extends: ["db"],
    load: async () => (await import("./commands/restoreCommands.js")).registerRestoreCommands,
  },
];

/**
 * The `ipam` command tree for one command line: the modules of the command it runs, fully, and
 * every other command as its help line only (what `ipam --help` and commander's "unknown command"
 * suggestions need). exitOverride comes first so every subcommand inherits it: parse errors
 * become exceptions that `run` turns into exit code 2 instead of commander exiting with 1.
 */
export async function buildProgram(argv: readonly string[] = process.argv): Promise<Command> {
  const program = rootCommand();
  const running = commandRun(program, argv.slice(2));
  const placeholders = new WeakSet<Command>();
  program.configureHelp({
    subcommandTerm(this: Help, command: Command): string {
      return placeholders.has(command) ? termOf(command.name()) : Help.prototype.subcommandTerm.call(this, command);
    },
  });
  for (const module of COMMAND_MODULES) {
    const names = Object.keys(module.commands);
    if (running !== undefined && (names.includes(running) || module.extends?.includes(running) === true)) {
      (await module.load())(program);
      continue;
    }
    for (const name of names) {
      if (program.commands.some((command) => command.name() === name)) continue;
      placeholders.add(program.command(name).description(module.commands[name]!.description));
    }
  }
  return program;
}

/** Every module loaded, as before lazy loading: what the help lines in COMMAND_MODULES must match. */
export async function buildFullProgram(): Promise<Command> {
  const program = rootCommand();
  for (const module of COMMAND_MODULES) (await module.load())(program);
  return program;
}

function rootCommand(): Command {
  return new Command("ipam")
    .description("Operator CLI for pulumi-ipam. Database: $IPAM_DATABASE_URL when set, otherwise the local embedded PostgreSQL (see `ipam db`).")
    .exitOverride()
    .showHelpAfterError("(add --help for usage)")
    .option("--schema <name>", "PostgreSQL schema holding the IPAM tables", "ipam");
}

/**
 * The top-level command a command line runs (`ipam help <command>` asks for that command's help):
 * the first argument that is neither an option of the program nor its value.
 */
function commandRun(program: Command, args: readonly string[]): string | undefined {
  const takesValue = new Set(program.options.filter((option) => option.required || option.optional).flatMap((option) => [option.long, option.short]));
  const words: string[] = [];
  for (let index = 0; index < args.length && words.length < 2; index += 1) {
    const arg = args[index]!;
    if (takesValue.has(arg)) index += 1;
    else if (!arg.startsWith("-")) words.push(arg);
    if (words[0] !== undefined && words[0] !== "help") break;
  }
  return words[0] === "help" ? words[1] : words[0];
}

function termOf(name: string): string {
  for (const module of COMMAND_MODULES) {
    const entry = module.commands[name];
    if (entry !== undefined) return entry.term;
  }
  return name;
}

import type { Command } from "commander";
import { ConfigurationError } from "../../core/errors.js";
import { Ipam } from "../../store/Ipam.js";
import { selectDatabase, type GlobalOptions } from "../databaseSelection.js";
import { MIN_TOKEN_LENGTH, TOKEN_VARIABLE } from "../serve/accessToken.js";
import { DEFAULT_LISTEN, parseListen, type ListenAddress } from "../serve/listenAddress.js";
import { serveApp } from "../serve/serveApp.js";
import { startServer } from "../serve/startServer.js";
import { note, printLine } from "../terminal.js";

/** Every statement of a request is cut off after this long (SET LOCAL statement_timeout). */
const STATEMENT_TIMEOUT_MS = 10_000;

/** `ipam serve`: the read-only web view, JSON API and Prometheus metrics, until interrupted. */
export function registerServeCommand(program: Command): void {
  program
    .command("serve")
    .description("a read-only web view of the address space (subnet tree, subnets, allocations, history, search), its JSON under /api/v1 and Prometheus /metrics")
    .option("--listen <host:port>", "where to listen (default 127.0.0.1:8080; anything but loopback needs a token)", parseListen)
    .option("--token <token>", `require this token on every request (prefer $${TOKEN_VARIABLE}: arguments show in ps)`)
    .action(async (options: { listen?: ListenAddress; token?: string }, command: Command) => {
      const listen = options.listen ?? DEFAULT_LISTEN;
      const token = options.token ?? (process.env[TOKEN_VARIABLE] || undefined);
      if (token !== undefined && token.length < MIN_TOKEN_LENGTH) throw new ConfigurationError(`the token must be at least ${MIN_TOKEN_LENGTH} characters (e.g. \`openssl rand -hex 24\`)`);
      if (!listen.loopback && token === undefined) {
        throw new ConfigurationError(`refusing to listen on ${listen.host}, which is not a loopback address, without a token: set ${TOKEN_VARIABLE} (or --token)`);
      }
      const { schema } = command.optsWithGlobals<GlobalOptions>();
      const { url: databaseUrl, description } = await selectDatabase();
      // Never migrates: a web view must not change the schema (and its role may not be allowed to).
      const ipam = await Ipam.open({ databaseUrl, schema, migrate: false, maxConnections: 4, statementTimeoutMs: STATEMENT_TIMEOUT_MS, lockTimeoutMs: STATEMENT_TIMEOUT_MS, acquireTimeoutMs: STATEMENT_TIMEOUT_MS });
      try {
        const { app, signInPath } = serveApp(ipam, { ...(token === undefined ? {} : { token }), log: note });
        const server = await startServer(app, listen);
        printLine(server.url);
        if (signInPath !== null) printLine(`sign in once (the link works one time): ${new URL(signInPath, server.url).toString()}`);
        note(`ipam serve: read-only view of ${description}, schema ${schema}; Ctrl-C stops it`);
        await stopSignal();
        await server.close();
      } finally {
        await ipam.close();
      }
    });
}

function stopSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

import { createPool, type DatabasePool } from "slonik";
import { parseConnectionUrl, slonikUrl, type ConnectionOptions } from "./connectionOptions.js";
import { wrapDatabaseError } from "./databaseErrors.js";
import { createResultParserInterceptor } from "./resultParser.js";

/**
 * Connections per pool unless configured (`maxConnections`, `ipam:maxConnections`). A provider
 * host's work is a single statement or a short transaction, so a few connections keep it busy;
 * docs/connections.md has the measurement and the sizing rule (stacks × pool ≤ the server's limit).
 */
export const DEFAULT_MAX_CONNECTIONS = 3;

export interface DatabasePoolOptions {
  readonly maxConnections?: number;
  readonly connectionTimeoutMs?: number;
}

/**
 * A slonik pool tuned for PgBouncer transaction pooling: no session state and no timeouts sent as
 * startup parameters (transactions set them with SET LOCAL). int8 and numeric come back as strings
 * so no precision is lost; callers turn them into bigint.
 * @throws DatabaseUnavailableError (never with the connection string)
 */
export async function createDatabasePool(database: string | ConnectionOptions, options: DatabasePoolOptions = {}): Promise<DatabasePool> {
  try {
    // One parser for every client: TLS reaches slonik as its ssl option, never through its own URL parser.
    const connection = typeof database === "string" ? parseConnectionUrl(database) : database;
    return await createPool(slonikUrl(connection), {
      ...(connection.ssl === false ? {} : { ssl: connection.ssl }),
      maximumPoolSize: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      connectionTimeout: options.connectionTimeoutMs ?? 10_000,
      statementTimeout: "DISABLE_TIMEOUT",
      idleInTransactionSessionTimeout: "DISABLE_TIMEOUT",
      idleTimeout: 5_000,
      queryRetryLimit: 0,
      transactionRetryLimit: 0,
      connectionRetryLimit: 1,
      captureStackTrace: false,
      interceptors: [createResultParserInterceptor()],
      // slonik's default sends DISCARD ALL on every release, which throws away each session's
      // cached plans and costs a round trip. Transactions only ever use SET LOCAL, so there is no
      // session state to reset (the same property that makes PgBouncer transaction pooling safe).
      resetConnection: async () => undefined,
      typeParsers: [
        { name: "int8", parse: (value: string) => value },
        { name: "numeric", parse: (value: string) => value },
        { name: "timestamptz", parse: (value: string) => new Date(value).toISOString() },
      ],
    });
  } catch (error) {
    throw wrapDatabaseError(error, "connecting");
  }
}

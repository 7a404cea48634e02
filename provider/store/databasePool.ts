import { createPool, type DatabasePool } from "slonik";
import { wrapDatabaseError } from "./databaseErrors.js";
import { createResultParserInterceptor } from "./resultParser.js";

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
export async function createDatabasePool(databaseUrl: string, options: DatabasePoolOptions = {}): Promise<DatabasePool> {
  try {
    return await createPool(databaseUrl, {
      maximumPoolSize: options.maxConnections ?? 10,
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

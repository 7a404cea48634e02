import pg from "pg";
import { pgClientConfig, type ConnectionOptions } from "./connectionOptions.js";
import { commitFailure } from "./storeDatabase.js";
import { wrapDatabaseError } from "./databaseErrors.js";

/*
 * One transaction in one round trip (issue 25): BEGIN, the timeouts, the statement and COMMIT
 * written together on a connection in pg's pipeline mode (each message answered in order, nobody
 * waiting for an answer before sending the next), where slonik's transaction waits for each answer.
 * Every statement keeps its meaning: the timeouts are SET LOCAL before the work, so the statement
 * timeout bounds the work (a setting made inside a statement would not bound it), and PgBouncer
 * transaction pooling is still safe. BEGIN and the timeouts are one simple query (their values are
 * integers from the validated options, no parameters needed), which spares the server a parse,
 * bind and plan per transaction. If a statement fails, the server refuses the rest of the
 * transaction and COMMIT answers ROLLBACK.
 *
 * Used by the next-free batcher and by releases (migration 0023), whose transactions are one statement each: a small pool of
 * pipelined connections, at most `max` (so a process holds at most that many connections beyond
 * its pool's), closed after IDLE_MS without work like slonik's. When all are busy, `transaction`
 * answers null and the caller uses the pool as before.
 */

const IDLE_MS = 5_000;

export class PipelinedTransactions {
  private readonly idle: { client: pg.Client; timer: NodeJS.Timeout }[] = [];
  private open = 0;
  private ended = false;
  private readonly begin: string;

  constructor(
    private readonly connection: ConnectionOptions,
    timeouts: { lockTimeoutMs: number; statementTimeoutMs: number },
    private readonly max: number,
    private readonly connectTimeoutMs = 10_000,
  ) {
    this.begin = `BEGIN; SET LOCAL lock_timeout = ${milliseconds(timeouts.lockTimeoutMs)}; SET LOCAL statement_timeout = ${milliseconds(timeouts.statementTimeoutMs)}`;
  }

  /**
   * Run `text` with `values` as the one statement of a transaction, in one round trip.
   * @returns its rows, or null (nothing sent) when all `max` connections are busy
   * @throws like inLockedTransaction: the statement's error via wrapDatabaseError; OutcomeUnknownError
   *   when the connection was lost once the statement had succeeded (COMMIT may or may not have arrived)
   */
  async transaction<R>(doing: string, text: string, values: readonly unknown[]): Promise<R[] | null> {
    if (this.idle.length === 0 && this.open >= this.max) return null;
    const client = await this.take(doing);
    let healthy = false;
    try {
      // pg writes each query as it is given (a system call each, 3 per transaction); corked, the
      // three go out in one write (issue 25: a provider host's socket writes were a measured share
      // of its CPU). In pipeline mode pg sends a query synchronously, so all three are in the buffer.
      const socket = (client.connection as unknown as { stream: { cork(): void; uncork(): void } }).stream;
      socket.cork();
      let sent: Promise<pg.QueryResult>[];
      try {
        sent = [
          client.query(this.begin),
          client.query(text, values as unknown[]),
          client.query("COMMIT"),
        ];
      } finally {
        socket.uncork();
      }
      const answers = await Promise.allSettled(sent);
      const failed = answers.find((answer) => answer.status === "rejected");
      if (failed !== undefined) {
        // The server's own refusal (the first one; the rest refuse the aborted transaction) means
        // it rolled back. Anything else (a lost connection) came after COMMIT was already on its
        // way, whichever answers had arrived: whether it committed is unknown.
        if (failed.reason instanceof pg.DatabaseError) throw wrapDatabaseError(failed.reason, doing);
        throw commitFailure(failed.reason, doing);
      }
      healthy = true;
      return (answers[1] as PromiseFulfilledResult<pg.QueryResult>).value.rows as R[];
    } finally {
      this.give(client, healthy);
    }
  }

  async end(): Promise<void> {
    this.ended = true;
    const closing = this.idle.splice(0).map(({ client, timer }) => {
      clearTimeout(timer);
      return client.end().catch(() => undefined);
    });
    await Promise.all(closing);
  }

  private async take(doing: string): Promise<pg.Client> {
    const ready = this.idle.pop();
    if (ready !== undefined) {
      clearTimeout(ready.timer);
      return ready.client;
    }
    const client = new pg.Client({ ...pgClientConfig(this.connection, { connectionTimeoutMillis: this.connectTimeoutMs }), pipeline: true } as pg.ClientConfig);
    client.on("error", () => undefined);
    this.open += 1;
    try {
      await client.connect();
      return client;
    } catch (error) {
      this.open -= 1;
      await client.end().catch(() => undefined);
      throw wrapDatabaseError(error, doing);
    }
  }

  /** Back to the idle list; a connection whose transaction failed is closed (its state is unknown). */
  private give(client: pg.Client, healthy: boolean): void {
    if (!healthy || this.ended) {
      this.open -= 1;
      void client.end().catch(() => undefined);
      return;
    }
    const entry = {
      client,
      timer: setTimeout(() => {
        const index = this.idle.indexOf(entry);
        if (index >= 0) this.idle.splice(index, 1);
        this.open -= 1;
        void client.end().catch(() => undefined);
      }, IDLE_MS),
    };
    entry.timer.unref();
    this.idle.push(entry);
  }
}

/** A timeout written into the BEGIN text: only a whole number of milliseconds can get there. */
function milliseconds(value: number): string {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`a timeout must be a whole number of milliseconds, got ${value}`);
  return String(value);
}

import type pg from "pg";

/** One SQL statement with its parameters. */
export type Statement = [string, unknown[]];

/**
 * Run the statements as `client` in one transaction: "accepted" (then committed), or the first
 * error (then rolled back). Attack tests compare what a role may write against what it is refused.
 */
export async function statementsAs(client: pg.Client, statements: Statement[]): Promise<unknown> {
  await client.query("BEGIN");
  try {
    for (const [text, values] of statements) await client.query(text, values);
    await client.query("COMMIT");
    return "accepted";
  } catch (error) {
    await client.query("ROLLBACK");
    return error;
  }
}

import pg from "pg";

async function withAdmin<T>(adminUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Backends connected to `databaseName` that announced `applicationName`. */
export async function backendCount(adminUrl: string, databaseName: string, applicationName: string): Promise<number> {
  return withAdmin(adminUrl, async (client) => {
    const { rows } = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = $2",
      [databaseName, applicationName],
    );
    return rows[0]!.n;
  });
}

/**
 * Wait (bounded) until the server has room for `needed` more connections. The machine's server is
 * shared by every test file running at the same time; a storm that cannot connect proves nothing.
 */
export async function waitForConnectionHeadroom(adminUrl: string, needed: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const free = await withAdmin(adminUrl, async (client) => {
      const { rows } = await client.query<{ free: number }>(
        `SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int
                - (SELECT count(*)::int FROM pg_stat_activity WHERE backend_type = 'client backend') AS free`,
      );
      return rows[0]!.free;
    });
    if (free >= needed) return;
    if (Date.now() > deadline) throw new Error(`the server has room for only ${free} more connections; ${needed} are needed`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

import { describe, expect, inject, it } from "vitest";
import pg from "pg";
import { assertSupportedServer } from "../../provider/store/schema/migrate.js";

/** A client whose server reports `num` / `version`: the check reads nothing else. */
const serverAt = (num: string, version: string) =>
  ({ query: async () => ({ rows: [{ num, version }] }) }) as unknown as Pick<pg.Client, "query">;

describe("the server's version is checked before any migration runs", () => {
  it("refuses PostgreSQL 13 with a CONFIGURATION error naming both versions and saying nothing changed", async () => {
    await expect(assertSupportedServer(serverAt("130016", "13.16"))).rejects.toMatchObject({
      code: "CONFIGURATION",
      message: expect.stringMatching(/PostgreSQL 13\.16 is too old: pulumi-ipam needs PostgreSQL 14 or newer \(nothing was changed\)/),
    });
  });

  it("accepts 14 and the run's own server", async () => {
    await expect(assertSupportedServer(serverAt("140000", "14.0"))).resolves.toBeUndefined();
    const client = new pg.Client({ connectionString: inject("adminDatabaseUrl") });
    await client.connect();
    try {
      await expect(assertSupportedServer(client)).resolves.toBeUndefined();
    } finally {
      await client.end();
    }
  });
});

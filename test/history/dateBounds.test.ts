import { inspect } from "node:util";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { InvalidInputError, IpamError } from "../../provider/core/errors.js";
import { wrapDatabaseError } from "../../provider/store/database/databaseErrors.js";
import { jsonError, runCli } from "../helpers/cliRunner.js";
import { useTestIpam } from "../helpers/openTestIpam.js";

// Issue 13 item 9: year 0000 passed validation, then PostgreSQL refused it with a message quoting
// the value (DATABASE_ERROR 22008). Dates are checked in the core; no error repeats a bound value.
const source = useTestIpam("datebounds");

/** Outside years 0001-9999 in UTC: year 0000 itself, and valid local years that are not in UTC. */
const OUT_OF_RANGE = ["0000-01-01", "0000-06-15T12:00:00Z", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-10:00"];

async function failure(run: () => Promise<unknown>): Promise<IpamError> {
  const error = await run().then(
    (value) => new Error(`accepted: ${JSON.stringify(value)}`),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(IpamError);
  return error as IpamError;
}

describe("dates outside the stored range are INVALID_INPUT, never a database error", () => {
  it.each(OUT_OF_RANGE)("history since %s → INVALID_INPUT naming since", async (since) => {
    const error = await failure(() => source.ipam.history({ since }));
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).issues).toEqual([{ field: "since", reason: expect.stringContaining("0001 and 9999") }]);
  });

  it("the first and last stored instants are still accepted", async () => {
    for (const since of ["0001-01-01", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-01-31"]) {
      await expect(source.ipam.history({ since })).resolves.toMatchObject({ events: expect.any(Array) });
    }
  });

  it("an import with a createdAt in year 0000 is refused naming the record, and nothing is written", async () => {
    await source.ipam.createSubnet({ cidr: "10.90.0.0/24", namespace: "dates" });
    const snapshot = await source.ipam.exportSnapshot({ namespace: "dates" });
    const forged = { ...snapshot, subnets: snapshot.subnets.map((s) => ({ ...s, id: "777", cidr: "10.91.0.0/24", createdAt: "0000-01-01T00:00:00Z" })) };
    const error = await failure(() => source.ipam.importSnapshot(forged));
    expect(error.code).toBe("INVALID_INPUT");
    expect((error as InvalidInputError).issues.map((issue) => issue.field)).toEqual(["subnets.0.createdAt"]);
    expect((await source.ipam.listSubnets({ namespace: "dates" })).map((s) => s.cidr)).toEqual(["10.90.0.0/24"]);
  });

  it("snapshot times are taken only where they come back exactly: 1970 to 9999 (UTC)", async () => {
    await source.ipam.createSubnet({ cidr: "10.92.0.0/24", namespace: "times" });
    const snapshot = await source.ipam.exportSnapshot({ namespace: "times" });
    const withTime = (id: string, cidr: string, createdAt: string) => ({ ...snapshot, subnets: snapshot.subnets.map((s) => ({ ...s, id, cidr, createdAt })) });
    // Year 0050 was stored and exported as 2050 (the pool's Date parser reads years 0001-0099 as 20xx).
    for (const createdAt of ["0050-06-01T00:00:00Z", "1969-12-31T23:59:59Z", "1970-01-01T00:30:00+01:00"]) {
      const error = await failure(() => source.ipam.importSnapshot(withTime("778", "10.93.0.0/24", createdAt)));
      expect((error as InvalidInputError).issues, createdAt).toEqual([{ field: "subnets.0.createdAt", reason: expect.stringContaining("1970-01-01T00:00:00Z") }]);
    }
    const kept: [string, string][] = [["1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000Z"], ["2026-03-01T12:00:00+05:30", "2026-03-01T06:30:00.000Z"]];
    for (const [index, [createdAt, expected]] of kept.entries()) {
      const cidr = `10.94.${index}.0/24`;
      await source.ipam.importSnapshot(withTime(String(780 + index), cidr, createdAt));
      const exported = await source.ipam.exportSnapshot({ namespace: "times" });
      expect(exported.subnets.find((s) => s.cidr === cidr)?.createdAt).toBe(expected);
    }
  });

  it("the CLI answers INVALID_INPUT (exit 1) without repeating the value", async () => {
    const result = await runCli(["history", "--since", "0000-01-01", "--json"], { IPAM_DATABASE_URL: source.db.url });
    expect(result.code).toBe(1);
    expect(jsonError(result)).toMatchObject({ code: "INVALID_INPUT", issues: [{ field: "since" }] });
    expect(result.stderr).not.toContain("0000-01-01");
  });
});

describe("a data exception (SQLSTATE 22xxx) from the real server never quotes the bound value", () => {
  const cases: [string, string, string][] = [
    ["22008 datetime field overflow", "SELECT $1::timestamptz", "0000-01-01"],
    ["22P02 invalid text representation", "SELECT $1::int", "s3cret-Value-42"],
    ["22007 invalid datetime format", "SELECT $1::timestamptz", "s3cret-Value-43"],
  ];
  it.each(cases)("%s", async (_what, query, value) => {
    const client = new pg.Client({ connectionString: source.db.url });
    await client.connect();
    const raw = await client.query(query, [value]).then(
      () => new Error("no error"),
      (e: unknown) => e as Error,
    );
    await client.end();
    expect(raw.message).toContain(value); // the driver's own message does quote it
    const wrapped = wrapDatabaseError(raw, "reading history");
    expect(wrapped.code).toBe("DATABASE_ERROR");
    expect(wrapped.message).toMatch(/SQLSTATE 22/);
    // Nowhere: not in the message, the JSON form, or the kept cause (which util.inspect prints).
    expect(wrapped.message).not.toContain(value);
    expect(JSON.stringify(wrapped)).not.toContain(value);
    expect(inspect(wrapped, { showHidden: true, depth: 10 })).not.toContain(value);
  });
});

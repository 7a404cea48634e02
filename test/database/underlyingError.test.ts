import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { DatabaseError, IpamError } from "../../provider/core/errors.js";
import { UnderlyingError, underlyingError } from "../../provider/core/underlyingError.js";
import { Ipam } from "../../provider/store/index.js";

describe("what an IpamError keeps of its cause", () => {
  it("keeps class, redacted message, code, constraint and frames; drops SQL, values, rows and URL inputs", () => {
    const driver = Object.assign(new Error('duplicate key value violates unique constraint "allocated_address_pkey"'), {
      code: "23505",
      constraint: "allocated_address_pkey",
      detail: "Key (subnet_id, address)=(1, 10.0.0.5) already exists.",
    });
    const slonik = Object.assign(new Error("Query violates a unique integrity constraint."), { name: "UniqueIntegrityConstraintViolationError", sql: "INSERT INTO x", values: ["v"], cause: driver });
    const url = Object.assign(new TypeError("Invalid URL"), { code: "ERR_INVALID_URL", input: "postgres://u:hunter2@h:x/d" });
    const error = new DatabaseError("failed", "23505", Object.assign(slonik, { row: { secret: "hunter2" }, also: url }));
    const cause = error.cause as UnderlyingError;
    expect(cause).toBeInstanceOf(UnderlyingError);
    expect(cause.name).toBe("UniqueIntegrityConstraintViolationError");
    expect((cause.cause as UnderlyingError).code).toBe("23505");
    expect((cause.cause as UnderlyingError).constraint).toBe("allocated_address_pkey");
    const text = inspect(error, { depth: 10, showHidden: true });
    for (const gone of ["INSERT INTO", "Key (subnet_id", "hunter2", "'v'"]) expect(text).not.toContain(gone);
    expect(text).toContain("allocated_address_pkey");
    expect(new DatabaseError("x", undefined, url).cause).not.toHaveProperty("input");
  });

  it("redacts URLs and passwords in messages, and survives hostile causes", () => {
    expect(underlyingError(new Error("cannot reach postgres://a:b@c/d, password=hunter2"))?.message).toBe("cannot reach <redacted-url> password=<redacted>");
    const circular: { message: string; cause?: unknown } = { message: "loop" };
    circular.cause = circular;
    expect(() => inspect(new IpamError("DATABASE_ERROR", "x", { cause: circular }), { depth: 20 })).not.toThrow();
    const trap = Object.defineProperty({}, "message", { get: () => { throw new Error("boom"); } });
    expect(underlyingError(trap)?.message).toBe("an underlying error that could not be described");
    expect(underlyingError("postgres://a:b@c/d")?.message).toBe("<redacted-url>");
  });
});

describe("Ipam options are validated, naming the option and never echoing the URL", () => {
  it.each([
    [{}, "databaseUrl"],
    [{ databaseUrl: "" }, "databaseUrl"],
    [{ databaseUrl: 42 }, "databaseUrl"],
    [{ databaseUrl: "postgres://u:hunter2@127.0.0.1:1/d", maxConnections: Number.NaN }, "maxConnections"],
    [{ databaseUrl: "postgres://u:hunter2@127.0.0.1:1/d", lockTimeoutMs: -1 }, "lockTimeoutMs"],
    [{ databaseUrl: "postgres://u:hunter2@127.0.0.1:1/d", migrate: "yes" }, "migrate"],
    [null, "options"],
  ])("%j", async (options, field) => {
    const error = await Ipam.open(options as never).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "CONFIGURATION" });
    expect((error as Error).message).toContain(field);
    expect(inspect(error, { depth: 10 })).not.toContain("hunter2");
  });
});

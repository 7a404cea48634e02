import { z } from "zod";

const FIRST_YEAR = 1;
const LAST_YEAR = 9999;
const RANGE_MESSAGE = `must lie between the years ${String(FIRST_YEAR).padStart(4, "0")} and ${LAST_YEAR} (also in UTC)`;

/**
 * Whether the instant lies in years 0001-9999 in UTC. ISO 8601 year 0000 (1 BC) is valid for zod
 * but not for PostgreSQL, which then fails with a message quoting the value (SQLSTATE 22008); an
 * offset can also carry a valid local year outside that range in UTC (0001-01-01T00:00+14:00),
 * which would be stored and then exported in a form that cannot be imported again.
 */
function inStoredRange(text: string): boolean {
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) return false;
  const year = new Date(ms).getUTCFullYear();
  return year >= FIRST_YEAR && year <= LAST_YEAR;
}

/** 1970-01-01T00:00:00Z: no IPAM record is older than the Unix epoch. */
const EPOCH_MS = 0;

/**
 * Whether a stored time comes back as given. PostgreSQL prints a timestamptz as text that the
 * pool turns back into ISO with `new Date(text)`, whose parser reads years 0001-0099 as 2001-2099
 * (`0050-06-01 00:00:00+00` became 2050), and zones print times before about 1900 with local-mean-time
 * offsets (`+00:53:28`) it cannot read at all. Nothing this IPAM records predates 1970.
 */
function roundTrips(text: string): boolean {
  const ms = Date.parse(text);
  return !Number.isNaN(ms) && ms >= EPOCH_MS && new Date(ms).getUTCFullYear() <= LAST_YEAR;
}

/** An ISO 8601 timestamp with an offset or Z that the database stores and gives back exactly: 1970 to 9999 (UTC). */
export const timestampSchema = z.iso
  .datetime({ offset: true, error: "must be an ISO 8601 timestamp" })
  .refine(roundTrips, { error: `must lie between 1970-01-01T00:00:00Z and the end of year ${LAST_YEAR} (UTC)` });

/** An ISO 8601 date (midnight UTC) or timestamp, in the range the database stores: a filter bound. */
export const dateOrTimestampSchema = z
  .union([z.iso.datetime({ offset: true }), z.iso.date()], { error: "must be an ISO 8601 date or timestamp (2026-01-31 or 2026-01-31T12:00:00Z)" })
  .refine(inStoredRange, { error: RANGE_MESSAGE });

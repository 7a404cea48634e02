import { InvalidInputError } from "../../core/errors.js";
import { LIMITS } from "../../core/schemas.js";

/** Rows a page shows unless `limit` says otherwise; never more than the core's page size. */
export const DEFAULT_PAGE = 100;

/**
 * `limit` from a query string: 1 to LIMITS.pageSize (1,000), so no request reads an unbounded page.
 * @throws InvalidInputError naming `limit`
 */
export function pageLimit(value: string | undefined): number {
  if (value === undefined || value === "") return DEFAULT_PAGE;
  if (!/^\d{1,4}$/.test(value) || Number(value) < 1 || Number(value) > LIMITS.pageSize) throw InvalidInputError.of("limit", `must be a whole number from 1 to ${LIMITS.pageSize}`);
  return Number(value);
}

/** An optional id-shaped parameter (a cursor or an id); the core checks what it names. */
export function optionalId(name: string, value: string | undefined): string | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^\d{1,19}$/.test(value)) throw InvalidInputError.of(name, "must be an id (digits)");
  return value;
}

/** An optional text parameter: absent and empty mean the same. */
export function optionalText(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

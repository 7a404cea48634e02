import { ConfigurationError } from "../../core/errors.js";

export const DEFAULT_SCHEMA = "ipam";

/** @throws ConfigurationError unless `schema` is a plain lower-case identifier */
export function assertSchemaName(schema: string): void {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new ConfigurationError(`schema must be a lower-case identifier (letters, digits, _), got ${JSON.stringify(schema.slice(0, 70))}`);
  }
}

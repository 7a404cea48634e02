import { formatAddress, parseAddress } from "../core/address.js";
import { runsOf } from "../core/range.js";

/**
 * Addresses as consecutive runs ("10.0.0.2-10.0.0.5, 10.0.0.9"), at most `maxRuns` of them, so a
 * 32-address allocation is one short line in a table.
 */
export function summarizeAddresses(addresses: readonly string[], maxRuns = 3, total = addresses.length): string {
  if (addresses.length === 0) return "";
  const version = parseAddress(addresses[0], "address").version;
  const runs = runsOf(addresses.map((address) => parseAddress(address, "address").value));
  const shown = runs.slice(0, maxRuns).map((run) =>
    run.first === run.last ? formatAddress(version, run.first) : `${formatAddress(version, run.first)}-${formatAddress(version, run.last)}`,
  );
  const more = runs.length > maxRuns || total > addresses.length;
  return `${shown.join(", ")}${more ? ", …" : ""}${total > 1 ? ` (${total})` : ""}`;
}

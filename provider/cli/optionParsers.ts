import { InvalidArgumentError } from "commander";

/** Commander argument parsers: they check the shape of a flag; the core checks its meaning. */

export function wholeNumber(value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new InvalidArgumentError("must be a whole number");
  return Number(value);
}

export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function collectTag(value: string, previous: Record<string, string> | undefined): Record<string, string> {
  const equals = value.indexOf("=");
  if (equals < 0) throw new InvalidArgumentError("must be KEY=VALUE");
  return { ...previous, [value.slice(0, equals)]: value.slice(equals + 1) };
}

/** START-END: neither IPv4 nor IPv6 text contains '-', so the one dash separates the two. */
export function collectPool(value: string, previous: { start: string; end: string }[] | undefined): { start: string; end: string }[] {
  const parts = value.split("-");
  if (parts.length !== 2) throw new InvalidArgumentError("must be START-END, e.g. 10.0.0.10-10.0.0.200");
  return [...(previous ?? []), { start: parts[0]!, end: parts[1]! }];
}

import { IPv4, IPv6, Validator } from "ip-num";
import { InvalidInputError } from "./errors.js";

export type IpVersion = 4 | 6;

/** An address as its integer value; `text` is the canonical form we store and return. */
export interface IpAddress {
  readonly version: IpVersion;
  readonly value: bigint;
  readonly text: string;
}

/** A CIDR block as an inclusive integer range. */
export interface Cidr {
  readonly version: IpVersion;
  readonly prefixLength: number;
  readonly first: bigint;
  readonly last: bigint;
  readonly size: bigint;
  readonly text: string;
}

export const ADDRESS_BITS: Record<IpVersion, number> = { 4: 32, 6: 128 };
/** Prefixes shorter than these are refused: /0 and friends are almost always a typo. */
export const MIN_PREFIX_LENGTH: Record<IpVersion, number> = { 4: 8, 6: 16 };
const MAX_TEXT_LENGTH = 64;

const IPV4_MAPPED_FIRST = 0xffff_0000_0000n;
const IPV4_MAPPED_LAST = 0xffff_ffff_ffffn;

function fail(field: string, reason: string): never {
  throw InvalidInputError.of(field, reason);
}

/**
 * Canonical text of an address: dotted quad for IPv4, RFC 5952 for IPv6
 * (Node's WHATWG URL serializer implements RFC 5952 compression).
 */
export function formatAddress(version: IpVersion, value: bigint): string {
  const low = value & LAST_GROUP_MASK[version];
  const text = `${groupsBefore(version, value - low)}${low.toString(version === 4 ? 10 : 16)}`;
  return version === 4 ? text : new URL(`http://[${text}]/`).hostname.slice(1, -1);
}

/** The last group of an address (IPv4's last octet, IPv6's last 16-bit group), which ip-num's text ends with. */
const LAST_GROUP_MASK: Record<IpVersion, bigint> = { 4: 0xffn, 6: 0xffffn };

/**
 * ip-num's text of `base` (an address whose last group is 0) up to its last separator. ip-num turns
 * a value into text through a 128-character binary string and an object per group (about 7 µs an
 * IPv6 address, most of `ipam import --check`'s time for a 65,536-address bulk allocation, issue 22
 * item 7); addresses listed together share all but their last group, so the texts of the last few
 * bases are kept and the last group appended. The IPv6 text then goes through the URL serializer
 * (RFC 5952) as before: test/core/addressFormatCache.test.ts checks every result against ip-num's.
 * A short list, not a Map: V8 hashes a BigInt by its lowest 64 bits, which IPv6 bases often share.
 */
function groupsBefore(version: IpVersion, base: bigint): string {
  for (const kept of recentBases) if (kept.base === base && kept.version === version) return kept.text;
  const full = version === 4 ? new IPv4(base).toString() : new IPv6(base).toString();
  const text = full.slice(0, full.lastIndexOf(version === 4 ? "." : ":") + 1);
  recentBases[nextBase] = { version, base, text };
  nextBase = (nextBase + 1) % RECENT_BASES;
  return text;
}

const RECENT_BASES = 8;
const recentBases: { version: IpVersion; base: bigint; text: string }[] = [];
let nextBase = 0;

/** The value of an IPv6 string, or null when ip-num's validator refuses it. */
function ipv6Value(input: string): bigint | null {
  try {
    return IPv6.fromString(input).getValue();
  } catch {
    return null;
  }
}

/**
 * RFC 5952 text of a valid IPv6 string straight from the URL serializer, skipping ip-num's
 * value-to-text round trip (a third of the cost of parsing an address, which snapshot validation
 * does 65,536 times for one bulk allocation); null where the URL parser is stricter than ip-num.
 */
function canonicalIPv6(valid: string): string | null {
  try {
    return new URL(`http://[${valid}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
}

/**
 * Parse one address. Refuses leading zeros in IPv4 octets (ambiguous octal), zone ids,
 * IPv4-mapped IPv6 (use the IPv4 form), surrounding whitespace and prefix notation.
 * @throws InvalidInputError naming `field`
 */
export function parseAddress(input: unknown, field: string): IpAddress {
  if (typeof input !== "string") fail(field, `must be an IP address string, got ${describeType(input)}`);
  if (input.length === 0) fail(field, "must not be empty");
  if (input.length > MAX_TEXT_LENGTH) fail(field, `must be at most ${MAX_TEXT_LENGTH} characters`);
  if (input.includes("/")) fail(field, `must be a single address, not a CIDR (${input})`);
  if (input.includes("%")) fail(field, "zone ids (%…) are not supported");
  if (input.includes(":")) {
    // ip-num's constructor runs Validator.isValidIPv6String on the same text and throws when it
    // fails: calling the validator first as well doubled the cost of the check.
    const value = ipv6Value(input) ?? fail(field, `${JSON.stringify(input)} is not a valid IPv6 address`);
    if (value >= IPV4_MAPPED_FIRST && value <= IPV4_MAPPED_LAST) {
      fail(field, "IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are not supported; use the IPv4 form");
    }
    return { version: 6, value, text: canonicalIPv6(input) ?? formatAddress(6, value) };
  }
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(input) || /(^|\.)0\d/.test(input) || !Validator.isValidIPv4String(input)[0]) {
    fail(field, `${JSON.stringify(input)} is not a valid IPv4 address (four decimal octets 0-255, no leading zeros)`);
  }
  const value = IPv4.fromString(input).getValue();
  return { version: 4, value, text: formatAddress(4, value) };
}

/**
 * `parseAddress` for the address after `previous` in a list, such as the addresses of a bulk
 * allocation in an export: when `input` is exactly the canonical text ip-num and the URL serializer
 * give for `previous.value + 1`, that value is taken without parsing the text again (formatting a
 * value costs a quarter of parsing text with ip-num, which validated one 65,536-address allocation
 * in 1.6 s, issue 22 item 7). Any other text, canonical or not, is parsed by `parseAddress`, so
 * what is accepted, and the errors, are exactly parseAddress's.
 * @throws InvalidInputError naming `field`
 */
export function parseAddressAfter(input: unknown, field: string, previous: IpAddress | null): IpAddress {
  if (previous !== null && typeof input === "string" && previous.value < MAX_VALUE[previous.version]) {
    const value = previous.value + 1n;
    if (!(previous.version === 6 && value >= IPV4_MAPPED_FIRST && value <= IPV4_MAPPED_LAST) && input === formatAddress(previous.version, value)) {
      return { version: previous.version, value, text: input };
    }
  }
  return parseAddress(input, field);
}

const MAX_VALUE: Record<IpVersion, bigint> = { 4: (1n << 32n) - 1n, 6: (1n << 128n) - 1n };

/**
 * Parse a CIDR in canonical form: host bits must be clear (never silently masked).
 * @throws InvalidInputError naming `field`
 */
export function parseCidr(input: unknown, field: string): Cidr {
  if (typeof input !== "string") fail(field, `must be a CIDR string like 10.0.0.0/24, got ${describeType(input)}`);
  const slash = input.indexOf("/");
  if (slash < 0) fail(field, `${JSON.stringify(truncate(input))} is not a CIDR: missing /prefix-length`);
  const prefixText = input.slice(slash + 1);
  const address = parseAddress(input.slice(0, slash), field);
  if (!/^(0|[1-9]\d{0,2})$/.test(prefixText)) fail(field, `prefix length ${JSON.stringify(truncate(prefixText))} is not a number`);
  const prefixLength = Number(prefixText);
  const bits = ADDRESS_BITS[address.version];
  const min = MIN_PREFIX_LENGTH[address.version];
  if (prefixLength > bits || prefixLength < min) {
    fail(field, `prefix length must be between ${min} and ${bits} for IPv${address.version}, got ${prefixLength}`);
  }
  const hostBits = BigInt(bits - prefixLength);
  const size = 1n << hostBits;
  const first = (address.value >> hostBits) << hostBits;
  if (first !== address.value) {
    const canonical = `${formatAddress(address.version, first)}/${prefixLength}`;
    fail(field, `${input} has host bits set; the network is ${canonical}`);
  }
  if (address.version === 6 && first <= IPV4_MAPPED_LAST && first + size - 1n >= IPV4_MAPPED_FIRST && prefixLength > 80) {
    fail(field, "IPv4-mapped IPv6 ranges (::ffff:0:0/96) are not supported; use the IPv4 form");
  }
  return { version: address.version, prefixLength, first, last: first + size - 1n, size, text: `${address.text}/${prefixLength}` };
}

/**
 * Parse the CIDR of a new subnet (created, carved at a given CIDR, or imported): `parseCidr`, and
 * the block must hold only addresses `parseAddress` accepts. A block around ::ffff:0:0/96 (::/80,
 * ::/64, ...) would let the allocator hand out IPv4-mapped addresses that the API then refuses
 * (release by address, history filters, an export that cannot be imported). Stored subnets are read
 * with `parseCidr`, so one created by an earlier release keeps working.
 * @throws InvalidInputError naming `field`
 */
export function parseSubnetCidr(input: unknown, field: string): Cidr {
  const cidr = parseCidr(input, field);
  if (holdsIPv4Mapped(cidr)) {
    fail(field, `${cidr.text} contains the IPv4-mapped range ::ffff:0:0/96, whose addresses are not supported (use the IPv4 form): choose a block outside it`);
  }
  return cidr;
}

/**
 * `parseSubnetCidr` for the subnet after `previous` in a list, such as the children of a parent in
 * an export (issue 22 item 7: 16k children): when `input` is exactly the text of the block of the
 * same length right after `previous`, that block is taken without parsing the text with ip-num.
 * Any other text is parsed by `parseSubnetCidr`, so what is accepted, and the errors, are its own.
 * @throws InvalidInputError naming `field`
 */
export function parseSubnetCidrAfter(input: unknown, field: string, previous: Cidr | null): Cidr {
  if (previous !== null && typeof input === "string" && previous.last < MAX_VALUE[previous.version]) {
    const next = cidrOf(previous.version, previous.last + 1n, previous.prefixLength);
    if (input === next.text && !holdsIPv4Mapped(next)) return next;
  }
  return parseSubnetCidr(input, field);
}

function holdsIPv4Mapped(cidr: Cidr): boolean {
  return cidr.version === 6 && cidr.first <= IPV4_MAPPED_LAST && cidr.last >= IPV4_MAPPED_FIRST;
}

/** A CIDR from its parts, for children carved by the allocator. */
export function cidrOf(version: IpVersion, first: bigint, prefixLength: number): Cidr {
  const size = 1n << BigInt(ADDRESS_BITS[version] - prefixLength);
  return { version, prefixLength, first, last: first + size - 1n, size, text: `${formatAddress(version, first)}/${prefixLength}` };
}

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "number" && Number.isNaN(value)) return "NaN";
  return typeof value;
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

import { parseAddress, parseCidr, formatAddress, type Cidr, type IpAddress, type IpVersion } from "./address.js";
import { InvalidInputError, type InputIssue } from "./errors.js";
import { normalizeRanges, rangeContains, rangesOverlap, subtractRanges, type ValueRange } from "./range.js";

export interface AddressRangeText {
  readonly start: string;
  readonly end: string;
}

/** A validated subnet: canonical texts plus the integer ranges the allocator works with. */
export interface SubnetLayout {
  readonly cidr: Cidr;
  readonly gateway: IpAddress | null;
  readonly pools: readonly (ValueRange & AddressRangeText)[];
  /** Whether `pools` were given by the caller (false: derived from the usable range). */
  readonly poolsExplicit: boolean;
  readonly reserved: readonly (ValueRange & { readonly text: string })[];
  /** Pools minus gateway and reserved: exactly what the allocator may hand out when nothing is allocated. */
  readonly available: readonly ValueRange[];
}

export interface LayoutFields {
  readonly allocationPools?: readonly { start: string; end: string }[] | null | undefined;
  readonly gateway?: string | null | undefined;
  readonly reserved?: readonly string[] | undefined;
}

/**
 * Addresses that can be assigned to a host: IPv4 drops network and broadcast except in /31 and /32
 * (RFC 3021); IPv6 drops the subnet-router anycast address except in /127 and /128 (RFC 6164).
 */
export function usableRange(cidr: Cidr): ValueRange {
  if (cidr.version === 4) {
    return cidr.prefixLength >= 31 ? { first: cidr.first, last: cidr.last } : { first: cidr.first + 1n, last: cidr.last - 1n };
  }
  return cidr.prefixLength >= 127 ? { first: cidr.first, last: cidr.last } : { first: cidr.first + 1n, last: cidr.last };
}

/**
 * Validate gateway, pools and reserved ranges against a CIDR.
 * @throws InvalidInputError with one issue per offending field
 */
export function buildLayout(cidr: Cidr, fields: LayoutFields): SubnetLayout {
  const issues: InputIssue[] = [];
  const usable = usableRange(cidr);
  const collect = <T>(parse: () => T): T | undefined => {
    try {
      return parse();
    } catch (error) {
      if (error instanceof InvalidInputError) issues.push(...error.issues);
      else throw error;
      return undefined;
    }
  };
  const inSubnet = (address: IpAddress, field: string): boolean => {
    if (address.version !== cidr.version) {
      issues.push({ field, reason: `${address.text} is IPv${address.version} but the subnet ${cidr.text} is IPv${cidr.version}` });
      return false;
    }
    if (!rangeContains(usable, address.value)) {
      issues.push({ field, reason: `${address.text} is not a usable address of ${cidr.text} (usable: ${formatAddress(cidr.version, usable.first)}-${formatAddress(cidr.version, usable.last)})` });
      return false;
    }
    return true;
  };

  let gateway: IpAddress | null = null;
  if (fields.gateway !== undefined && fields.gateway !== null) {
    const parsed = collect(() => parseAddress(fields.gateway, "gateway"));
    if (parsed !== undefined && inSubnet(parsed, "gateway")) gateway = parsed;
  }

  const explicitPools = fields.allocationPools !== undefined && fields.allocationPools !== null;
  const pools: (ValueRange & AddressRangeText)[] = [];
  if (explicitPools) {
    fields.allocationPools!.forEach((pool, index) => {
      const start = collect(() => parseAddress(pool.start, `allocationPools.${index}.start`));
      const end = collect(() => parseAddress(pool.end, `allocationPools.${index}.end`));
      if (start === undefined || end === undefined) return;
      if (!inSubnet(start, `allocationPools.${index}.start`) || !inSubnet(end, `allocationPools.${index}.end`)) return;
      if (start.value > end.value) {
        issues.push({ field: `allocationPools.${index}`, reason: `start ${start.text} is after end ${end.text}` });
        return;
      }
      const range = { first: start.value, last: end.value, start: start.text, end: end.text };
      const clash = pools.findIndex((other) => rangesOverlap(other, range));
      if (clash >= 0) {
        issues.push({ field: `allocationPools.${index}`, reason: `${range.start}-${range.end} overlaps pool ${pools[clash]!.start}-${pools[clash]!.end}` });
        return;
      }
      if (gateway !== null && rangeContains(range, gateway.value)) {
        issues.push({ field: "gateway", reason: `${gateway.text} is inside allocation pool ${range.start}-${range.end}; the gateway is never allocated, so keep it out of the pools` });
      }
      pools.push(range);
    });
    if (fields.allocationPools!.length === 0) issues.push({ field: "allocationPools", reason: "must not be empty (omit it for the default pool)" });
  } else {
    const holes = gateway === null ? [] : [{ first: gateway.value, last: gateway.value }];
    for (const range of subtractRanges([usable], holes)) pools.push(derivedPool(cidr.version, range));
  }

  const reserved: (ValueRange & { text: string })[] = [];
  (fields.reserved ?? []).forEach((entry, index) => {
    const field = `reserved.${index}`;
    const range = collect(() => parseReserved(entry, field));
    if (range === undefined) return;
    if (range.version !== cidr.version || range.first < cidr.first || range.last > cidr.last) {
      issues.push({ field, reason: `${range.text} is not inside ${cidr.text}` });
      return;
    }
    reserved.push(range);
  });

  if (issues.length > 0) throw new InvalidInputError(issues);
  pools.sort((a, b) => (a.first < b.first ? -1 : 1));
  const available = subtractRanges(pools, reserved);
  return { cidr, gateway, pools, poolsExplicit: explicitPools, reserved, available: normalizeRanges(available) };
}

/**
 * A pool derived from the usable range: its texts are made when something reads them (a report,
 * an error, the stored row), not for every layout built (16,385 per `import --check` of issue 22
 * item 7's file, where nothing reads them).
 */
function derivedPool(version: IpVersion, range: ValueRange): ValueRange & AddressRangeText {
  let start: string | undefined;
  let end: string | undefined;
  return {
    first: range.first,
    last: range.last,
    get start() {
      return (start ??= formatAddress(version, range.first));
    },
    get end() {
      return (end ??= formatAddress(version, range.last));
    },
  };
}

function parseReserved(entry: string, field: string): ValueRange & { text: string; version: IpVersion } {
  if (typeof entry === "string" && entry.includes("/")) {
    const block = parseCidr(entry, field);
    return { first: block.first, last: block.last, text: block.text, version: block.version };
  }
  const address = parseAddress(entry, field);
  return { first: address.value, last: address.value, text: address.text, version: address.version };
}

/** Parse and canonicalize a CIDR plus its layout fields. */
export function parseSubnetLayout(cidrText: unknown, fields: LayoutFields): SubnetLayout {
  return buildLayout(parseCidr(cidrText, "cidr"), fields);
}

/** Why an address may not be taken as a specific allocation, or null when it may. */
export function specificAddressProblem(layout: SubnetLayout, address: IpAddress): string | null {
  if (address.version !== layout.cidr.version) return `${address.text} is IPv${address.version} but the subnet is IPv${layout.cidr.version}`;
  if (address.value < layout.cidr.first || address.value > layout.cidr.last) return `${address.text} is not inside ${layout.cidr.text}`;
  if (!rangeContains(usableRange(layout.cidr), address.value)) return `${address.text} is the ${address.value === layout.cidr.first ? "network" : "broadcast"} address of ${layout.cidr.text}`;
  if (layout.gateway !== null && layout.gateway.value === address.value) return `${address.text} is the gateway of ${layout.cidr.text}`;
  const reserved = layout.reserved.find((range) => rangeContains(range, address.value));
  if (reserved !== undefined) return `${address.text} is reserved (${reserved.text})`;
  return null;
}

export function isInPools(layout: SubnetLayout, value: bigint): boolean {
  return layout.pools.some((pool) => rangeContains(pool, value));
}

/** Whether a released address goes back to the free space (inside a pool and not reserved or the gateway). */
export function isAllocatable(layout: SubnetLayout, value: bigint): boolean {
  return layout.available.some((range) => rangeContains(range, value));
}

import { z } from "zod";
import { parseAddressAfter, type IpAddress } from "./address.js";
import { InvalidInputError, type InputIssue } from "./errors.js";
import { IntegerMap } from "./integerMap.js";
import { parseInput } from "./schemas.js";
import {
  checkHolds,
  childrenIndex,
  MAX_ISSUES,
  snapshotAllocationSchema,
  snapshotSchema,
  snapshotSubnetSchema,
  validateSubnets,
  type ChildrenIndex,
  type SnapshotAllocation,
  type SnapshotSubnet,
  type ValidatedHold,
  type ValidatedSubnet,
} from "./snapshot.js";
import { blockHoldOver, checkBlockHolds, type BlockHoldIndex } from "./snapshotBlockHolds.js";
import { specificAddressProblem } from "./subnetLayout.js";

/**
 * What a streamed check keeps of a snapshot (issue 25): the subnets whole (they are few, and the
 * import writes them first, parents first), and of the allocations only counts and their ids as
 * 8-byte values, so memory does not grow with the allocations' contents. The allocations are read
 * again from the file when they are written.
 */
export interface CheckedSnapshot {
  /** Parents before children. */
  readonly subnets: readonly ValidatedSubnet[];
  readonly holds: ReadonlyMap<string, readonly ValidatedHold[]>;
  /** Held child blocks by source parent id. */
  readonly blockHolds: BlockHoldIndex;
  readonly allocations: number;
  readonly addresses: number;
  /** The file's allocation ids in file order (for the conflict check and the highest id). */
  readonly allocationIds: BigInt64Array;
}

type Indexed<T> = T & { index: number };


/**
 * The checks of validateSnapshot (snapshot.ts) fed one record at a time, in file order, so a file
 * need never be held whole. Same issues in the same order for the same file: schema issues of the
 * top level and of each record (field paths `subnets.3.cidr`, `allocations.7.addresses.0`) and, when
 * there are none, the semantic ones (subnets, then allocations, then holds), at most 50 each way.
 *
 * Call order: `subnet` for each subnet; `subnetsDone` once they are all in; `allocation` for each
 * allocation (the semantic checks need every subnet first; a file that lists its allocations
 * before its subnets is read twice: `allocationsBeforeSubnets`); `finish` with the top-level object.
 */
export class SnapshotChecker {
  private readonly schemaIssues = { subnets: [] as InputIssue[], allocations: [] as InputIssue[] };
  private schemaIssueCount = 0;
  private readonly issues: InputIssue[] = [];
  private readonly subnetRecords: (SnapshotSubnet | null)[] = [];
  private subnets: Map<string, Indexed<ValidatedSubnet>> | null = null;
  private childrenOf: ChildrenIndex = new Map();
  private blockHolds: BlockHoldIndex = new Map();
  /** Allocation ids seen: up to 15 digits (exact as numbers) in a compact map, longer ones as text; and in file order as 8-byte values. */
  private readonly ids = new IntegerMap();
  private readonly longIds = new Set<string>();
  private idList = new BigInt64Array(1024);
  private allocationCount = 0;
  private addressCount = 0;
  /** Each subnet's position among the subnets with allocations: IPv4 addresses are keyed by it times 2^32 plus the address. */
  private readonly subnetSlots = new Map<string, number>();
  /**
   * Each address to the position (in idList) of the allocation holding it: IPv4 in one compact
   * map (subnet slot × 2^32 + address), IPv6 per subnet by canonical text (V8 hashes a BigInt by
   * its lowest 64 bits: see validateAllocations).
   */
  private readonly v4Holders = new IntegerMap();
  private readonly v6Holders = new Map<string, Map<string, number>>();
  private readonly keys = new Set<string>();

  private v4Key(subnetId: string, value: bigint): number {
    let slot = this.subnetSlots.get(subnetId);
    if (slot === undefined) this.subnetSlots.set(subnetId, (slot = this.subnetSlots.size));
    return slot * 4294967296 + Number(value);
  }

  private holderOf(subnetId: string, address: IpAddress): number {
    if (address.version === 4) return this.v4Holders.get(this.v4Key(subnetId, address.value));
    return this.v6Holders.get(subnetId)?.get(address.text) ?? -1;
  }

  private hold(subnetId: string, address: IpAddress, position: number): void {
    if (address.version === 4) return this.v4Holders.set(this.v4Key(subnetId, address.value), position);
    let held = this.v6Holders.get(subnetId);
    if (held === undefined) this.v6Holders.set(subnetId, (held = new Map()));
    held.set(address.text, position);
  }

  private report(field: string, reason: string): void {
    if (this.issues.length < MAX_ISSUES) this.issues.push({ field, reason });
  }

  private schemaIssue(section: "subnets" | "allocations", error: unknown): void {
    if (!(error instanceof InvalidInputError)) throw error;
    for (const issue of error.issues) {
      if (this.schemaIssueCount >= MAX_ISSUES) return;
      this.schemaIssueCount += 1;
      this.schemaIssues[section].push(issue);
    }
  }

  /** Subnets go on to the semantic checks only while the file has no schema issue. */
  subnet(raw: unknown, index: number): void {
    try {
      this.subnetRecords.push(parseInput(snapshotSubnetSchema, raw, `subnets.${index}`));
    } catch (error) {
      this.schemaIssue("subnets", error);
      this.subnetRecords.push(null);
    }
  }

  /** Every subnet is in: their own checks run now (ordering, parents, overlaps), in the whole-file check's order. */
  subnetsDone(): void {
    if (this.subnets !== null) return;
    const records = this.subnetRecords.every((record) => record !== null) ? (this.subnetRecords as SnapshotSubnet[]) : [];
    this.subnets = validateSubnets(records, (field, reason) => this.report(field, reason));
    this.childrenOf = childrenIndex(this.subnets);
    this.blockHolds = checkBlockHolds(this.subnets, this.childrenOf, (field, reason) => this.report(field, reason));
  }

  /** Whether `subnetsDone` has run (allocations read before it are checked in a second read). */
  get subnetsChecked(): boolean {
    return this.subnets !== null;
  }

  /** One allocation: its schema, then (while the file has no schema issue) validateAllocations's checks. */
  allocation(raw: unknown, index: number): void {
    let record: SnapshotAllocation;
    try {
      record = parseInput(snapshotAllocationSchema, raw, `allocations.${index}`);
    } catch (error) {
      return this.schemaIssue("allocations", error);
    }
    if (this.schemaIssueCount > 0) return;
    if (this.subnets === null) throw new Error("SnapshotChecker: allocation before subnetsDone");
    const at = `allocations.${index}`;
    const short = record.id.length <= 15;
    if (short ? this.ids.has(Number(record.id)) : this.longIds.has(record.id)) return this.report(`${at}.id`, `allocation id ${record.id} appears twice`);
    if (short) this.ids.set(Number(record.id), 0);
    else this.longIds.add(record.id);
    const position = this.allocationCount;
    if (position === this.idList.length) {
      const grown = new BigInt64Array(this.idList.length * 2);
      grown.set(this.idList);
      this.idList = grown;
    }
    this.idList[position] = BigInt(record.id);
    this.allocationCount += 1;
    const subnet = this.subnets.get(record.subnetId);
    if (subnet === undefined) return this.report(`${at}.subnetId`, `subnet ${record.subnetId} is not in the file (or is invalid)`);
    if (subnet.record.childrenOnly === true) return this.report(`${at}.subnetId`, `subnet ${record.subnetId} is childrenOnly: it holds no addresses of its own`);
    const children = this.childrenOf.get(record.subnetId);
    if (record.idempotencyKey !== null) {
      const scoped = `${record.subnetId}\u0000${record.idempotencyKey}`;
      if (this.keys.has(scoped)) this.report(`${at}.idempotencyKey`, `${JSON.stringify(record.idempotencyKey)} is used twice in subnet ${record.subnetId}`);
      this.keys.add(scoped);
    }
    if (record.strategy === "specific" && record.addresses.length !== 1) {
      this.report(`${at}.addresses`, "an allocation of a specific address holds exactly one address");
    }
    let previous: IpAddress | null = null;
    record.addresses.forEach((text, place) => {
      const field = `${at}.addresses.${place}`;
      try {
        const address = parseAddressAfter(text, field, previous);
        previous = address;
        const problem = specificAddressProblem(subnet.layout, address);
        if (problem !== null) return this.report(field, problem);
        const child = children?.find(address.value);
        if (child !== undefined) return this.report(field, `${address.text} is inside child subnet ${child.record.id} (${child.layout.cidr.text})`);
        const heldBlock = blockHoldOver(this.blockHolds, record.subnetId, address);
        if (heldBlock !== null) return this.report(field, heldBlock);
        const holder = this.holderOf(record.subnetId, address);
        if (holder !== -1) return this.report(field, `${address.text} is also held by allocation ${this.idList[holder]}`);
        this.hold(record.subnetId, address, position);
        this.addressCount += 1;
      } catch (error) {
        if (!(error instanceof InvalidInputError)) throw error;
        for (const issue of error.issues) this.report(issue.field, issue.reason);
      }
    });
  }

  /**
   * The verdict, given the top-level object with its `subnets` and `allocations` arrays emptied
   * (their items went through `subnet` and `allocation`).
   * @throws InvalidInputError naming each offending field, as validateSnapshot
   */
  finish(top: unknown): CheckedSnapshot {
    const topIssues = topLevelIssues(top);
    if (topIssues.length > 0 || this.schemaIssueCount > 0) {
      // The whole-file parse reports in the schema's key order: format, exportedAt, subnets, allocations, unknown keys.
      const before = topIssues.filter((issue) => issue.field === "format" || issue.field === "exportedAt" || issue.field === "input");
      const after = topIssues.filter((issue) => !before.includes(issue));
      const at = (name: string) => after.filter((issue) => issue.field === name);
      const rest = after.filter((issue) => issue.field !== "subnets" && issue.field !== "allocations");
      throw new InvalidInputError([...before, ...at("subnets"), ...this.schemaIssues.subnets, ...at("allocations"), ...this.schemaIssues.allocations, ...rest]);
    }
    this.subnetsDone();
    const subnets = this.subnets!;
    const holds = checkHolds(
      subnets,
      (subnetId, address) => this.holderOf(subnetId, address) !== -1,
      this.blockHolds,
      (field, reason) => this.report(field, reason),
    );
    if (this.issues.length > 0) throw new InvalidInputError(this.issues);
    const ordered = [...subnets.values()].sort((a, b) => a.layout.cidr.prefixLength - b.layout.cidr.prefixLength);
    return { subnets: ordered, holds, blockHolds: this.blockHolds, allocations: this.allocationCount, addresses: this.addressCount, allocationIds: this.idList.subarray(0, this.allocationCount) };
  }
}

/**
 * The top level's own issues: the whole-file schema run over the top-level object with its arrays
 * emptied (a top level that is no object is checked as a stand-in of its JSON type, for the same
 * message without holding it).
 */
function topLevelIssues(top: unknown): InputIssue[] {
  const shape = top !== null && typeof top === "object" && !Array.isArray(top) ? top : Array.isArray(top) ? [] : top;
  const result = z.safeParse(snapshotSchema, shape);
  if (result.success) return [];
  try {
    parseInput(snapshotSchema, shape);
  } catch (error) {
    if (error instanceof InvalidInputError) return [...error.issues];
    throw error;
  }
  return [];
}

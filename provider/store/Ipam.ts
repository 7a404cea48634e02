import { PipelinedTransactions } from "./database/pipelinedTransactions.js";
import { MAX_SHARED_STATEMENTS } from "./allocations/nextFreeBatcher.js";
import type { AuditEvent, HistoryFilter } from "../core/historyFilter.js";
import type { AllocateInput, CreateSubnetInput, UpdateSubnetInput } from "../core/schemas.js";
import type { Snapshot } from "../core/snapshot.js";
import type { Allocation, AllocationResult, ReleaseResult, Subnet, SubnetTreeEntry, SubnetUpdateResult, SubnetUsage } from "../core/types.js";
import { adoptAllocation, allocate, findAllocationByKey, getAllocation, listAllocations, NextFreeBatcher, release, resizeAllocation, updateAllocation, whoHolds } from "./allocations/index.js";
import { listChildren } from "./children/index.js";
import { ConnectionGate, createDatabasePool, DEFAULT_MAX_CONNECTIONS, DEFAULT_SCHEMA, parseConnectionUrl, StoreDatabase, tablesFor } from "./database/index.js";
import { assertIpamOptions, type IpamOptions } from "./ipamOptions.js";
import type { AddressSearchResult, SubnetMapData, SubnetMetric, SubnetSizeCache, SubnetTreeReport, SubnetUsageReport, TreeTruncation } from "./reports/index.js";
import { hasPendingMigrations, migrate, readInstallationId } from "./schema/index.js";
import type { ImportOptions, ImportResult, SnapshotWrite } from "./snapshots/index.js";
import { createSubnet, deleteSubnet, getSubnet, listSubnetPage, listSubnets, subnetHolders, updateSubnet, type SubnetHolders } from "./subnets/index.js";
import type { FenceProblem, FenceStatus, ReconcileInput, ReconcileReport } from "./restore/index.js";

/*
 * The store's rarely used parts, loaded by the first call that needs them: a provider host (one per
 * stack, issue 25) creates, reads and releases, and never reports, exports, imports or reconciles.
 */
const reports = () => import("./reports/index.js");
const snapshots = () => import("./snapshots/index.js");
const restore = () => import("./restore/index.js");

export type { IpamOptions } from "./ipamOptions.js";
export type { AddressSearchResult, SubnetMapData, SubnetMetric, SubnetTreeReport, SubnetUsageReport } from "./reports/index.js";

type Page = { limit?: number; after?: string };

/**
 * The IPAM service over PostgreSQL: the public face, one line per operation (like go-ipam's
 * Ipamer). Every operation validates its input itself (callers are not trusted), and every
 * mutation of a subnet runs in one transaction holding that subnet's transaction-level advisory
 * lock. The work lives in the capability folders; each method's JSDoc there lists what it throws.
 */
export class Ipam {
  /** Each layout's sizes across `subnetMetrics` calls (scrapes): deriving them is most of a large one. */
  private sizes: SubnetSizeCache | undefined;

  private constructor(
    private readonly db: StoreDatabase,
    /** Group commit for next-free requests (migration 0008). */
    private readonly nextFree: NextFreeBatcher,
    /** One-round-trip transactions (the next-free batches', releases'); closed by nextFree. */
    private readonly pipelined: PipelinedTransactions | null,
  ) {}

  /**
   * Connect (and by default migrate).
   * @throws ConfigurationError for bad options, a bad schema name or a malformed URL; DatabaseUnavailableError when the server cannot be reached
   */
  static async open(options: IpamOptions): Promise<Ipam> {
    assertIpamOptions(options);
    const schema = options.schema ?? DEFAULT_SCHEMA;
    const connection = parseConnectionUrl(options.databaseUrl);
    const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    const pool = await createDatabasePool(connection, { maxConnections });
    const settings = {
      lockTimeoutMs: options.lockTimeoutMs ?? 30_000,
      statementTimeoutMs: options.statementTimeoutMs ?? 60_000,
      unsafeSkipLocking: options.unsafeSkipLocking ?? false,
    };
    const db = new StoreDatabase(pool, tablesFor(schema), settings, new ConnectionGate(maxConnections, options.acquireTimeoutMs ?? 30_000));
    const pipelined = options.pipelinedGroupCommit === false ? null : new PipelinedTransactions(connection, settings, MAX_SHARED_STATEMENTS);
    const ipam = new Ipam(db, new NextFreeBatcher(db, pipelined), pipelined);
    try {
      // Checked on a pool connection: an up-to-date database costs no extra connection to open.
      if (options.migrate !== false && (await db.read("checking the schema version", (tx) => hasPendingMigrations(tx, schema)))) {
        await migrate(connection, schema);
      }
    } catch (error) {
      await pool.end().catch(() => undefined);
      await pipelined?.end();
      throw error;
    }
    return ipam;
  }

  /** Operations holding or waiting for one of this process's connections (tests, bench). */
  connectionState(): { running: number; waiting: number; size: number } {
    return { ...this.db.gate.state(), size: this.db.gate.size };
  }

  /** Close the pool. */
  async close(): Promise<void> {
    await this.nextFree.end();
    await this.db.pool.end();
  }

  /** This database's identity (migration 0006): random, made once, the same through any URL. */
  installationId(): Promise<string> {
    return this.db.read("reading the database identity", (tx) => readInstallationId(tx));
  }

  /** A top-level subnet, or a child carved from `parentId`; with `idempotencyKey`, repeating returns the same one. */
  createSubnet(input: CreateSubnetInput): Promise<Subnet> {
    return createSubnet(this.db, input);
  }

  /** One subnet. */
  getSubnet(subnetId: string): Promise<Subnet> {
    return getSubnet(this.db, subnetId);
  }

  /** Every subnet (of one namespace, or all). */
  listSubnets(filter: { namespace?: string } = {}): Promise<Subnet[]> {
    return listSubnets(this.db, filter);
  }

  /** `listSubnets` a page at a time (keyset): pass the returned `next` as `after`. */
  listSubnetPage(filter: { namespace?: string } = {}, page: Page = {}): Promise<{ subnets: Subnet[]; next: string | null }> {
    return listSubnetPage(this.db, filter, page);
  }

  /** Change pools, gateway, reserved, description, tags, childrenOnly or the child rules while in use. */
  updateSubnet(subnetId: string, patch: UpdateSubnetInput, options: { claim?: string } = {}): Promise<SubnetUpdateResult> {
    return updateSubnet(this.db, subnetId, patch, options);
  }

  /** Remove a subnet without allocations or children (a child's block goes back to its parent). */
  deleteSubnet(subnetId: string, options: { claim?: string } = {}): Promise<{ deleted: boolean; superseded?: boolean }> {
    return deleteSubnet(this.db, subnetId, options);
  }

  /** The allocations and child subnets that keep a subnet from being deleted (counts, first few named); null when there is none. */
  subnetHolders(subnetId: string): Promise<SubnetHolders | null> {
    return subnetHolders(this.db, subnetId);
  }

  /** A parent's direct children in address order, in pages. */
  listChildren(parentId: string, page: Page = {}): Promise<{ subnets: Subnet[]; next: string | null }> {
    return listChildren(this.db, parentId, page);
  }

  /** A subnet and its descendants, depth first, each with its usage, read at one moment. */
  async subnetTree(subnetId: string, options: { maxDepth?: number; limit?: number } = {}): Promise<{ entries: SubnetTreeEntry[] } & TreeTruncation> {
    return (await reports()).subnetTree(this.db, subnetId, options);
  }

  /** A specific, the next free, a random, or `count` addresses at once; with a key, repeating returns the first result. */
  allocate(input: AllocateInput): Promise<AllocationResult> {
    return allocate(this.db, this.nextFree, input);
  }

  /** Take over an existing allocation: `owner` becomes its owner and `claim` its latest claimant. */
  adoptAllocation(input: { allocationId: string; owner: string; claim: string }): Promise<Allocation> {
    return adoptAllocation(this.db, input);
  }

  /** One allocation. */
  getAllocation(allocationId: string): Promise<Allocation> {
    return getAllocation(this.db, allocationId);
  }

  /** The allocation a request with this idempotency key made, or null. */
  findAllocationByKey(subnetId: string, idempotencyKey: string): Promise<Allocation | null> {
    return findAllocationByKey(this.db, subnetId, idempotencyKey);
  }

  /** Allocations of a subnet (or of an owner), by id, in pages. */
  listAllocations(filter: { subnetId?: string; owner?: string }, page: Page = {}): Promise<{ allocations: Allocation[]; next: string | null }> {
    return listAllocations(this.db, filter, page);
  }

  /** Which allocation holds `address` in a subnet, or null. */
  whoHolds(subnetId: string, address: string): Promise<Allocation | null> {
    return whoHolds(this.db, subnetId, address);
  }

  /** Release an allocation and all its addresses (twice is harmless; an older `claim` changes nothing; `subnetId`, if known, saves a lookup). */
  release(allocationId: string, options: { claim?: string; subnetId?: string } = {}): Promise<ReleaseResult> {
    return release(this.db, allocationId, options, this.pipelined);
  }

  /** Grow (with the allocation's strategy) or shrink (highest addresses first) an allocation. */
  resizeAllocation(input: { allocationId: string; count: number; claim?: string }): Promise<{ allocation: Allocation; released: string[] }> {
    return resizeAllocation(this.db, input);
  }

  /** Update the description and tags of an allocation. */
  updateAllocation(input: { allocationId: string; description?: string; tags?: Record<string, string>; claim?: string }): Promise<Allocation> {
    return updateAllocation(this.db, input);
  }

  /** Totals for a subnet, as decimal strings. */
  async usage(subnetId: string): Promise<SubnetUsage> {
    return (await reports()).usage(this.db, subnetId);
  }

  /** Audit events (allocations and subnet changes), newest first, in pages. */
  async history(filter: HistoryFilter = {}): Promise<{ events: AuditEvent[]; next: string | null }> {
    return (await reports()).history(this.db, filter);
  }

  /** Usage of one subnet with its holders and the allocated addresses outside its pools. */
  async usageReport(subnetId: string): Promise<SubnetUsageReport> {
    return (await reports()).usageReport(this.db, subnetId);
  }

  /** `usageReport` of every subnet a page at a time, each page read at one moment. */
  async usagePage(filter: { namespace?: string } = {}, page: Page = {}): Promise<{ reports: SubnetUsageReport[]; next: string | null }> {
    return (await reports()).usagePage(this.db, filter, page);
  }

  /** `usageReport` for a subnet and each of its descendants, read at one moment. */
  async usageTreeReport(subnetId: string, options: { limit?: number } = {}): Promise<{ reports: SubnetTreeReport[] } & TreeTruncation> {
    return (await reports()).usageTreeReport(this.db, subnetId, options);
  }

  /** What a picture of the subnet needs: its layout, who holds each cell, the cells its children cover. */
  async subnetMap(subnetId: string, options: { maxCellBits?: number } = {}): Promise<SubnetMapData> {
    return (await reports()).subnetMap(this.db, subnetId, options);
  }

  /** Every subnet's size, pool, allocated, free and children (of one namespace, or all) in one grouped read. */
  async subnetMetrics(filter: { namespace?: string } = {}): Promise<SubnetMetric[]> {
    const loaded = await reports();
    this.sizes ??= new loaded.SubnetSizeCache();
    return loaded.subnetMetrics(this.db, filter, this.sizes);
  }

  /** Subnets containing an address or CIDR, most specific first, and the allocations holding an address. */
  async searchAddressSpace(text: string): Promise<AddressSearchResult> {
    return (await reports()).searchAddressSpace(this.db, text);
  }

  /** Allocations holding an address from `first` to `last` of a subnet (a cell of its map). */
  async allocationsInRange(subnetId: string, first: string, last: string): Promise<Allocation[]> {
    return (await reports()).allocationsInRange(this.db, subnetId, first, last);
  }

  /** Subnets and allocations (all, or of one namespace) as one consistent, versioned JSON snapshot. */
  async exportSnapshot(filter: { namespace?: string } = {}): Promise<Snapshot> {
    return (await snapshots()).exportSnapshot(this.db, filter);
  }

  /** `exportSnapshot` streamed to `write` as it is read (memory does not grow with the data). */
  async writeSnapshot(filter: { namespace?: string }, write: SnapshotWrite): Promise<{ subnets: number; allocations: number }> {
    return (await snapshots()).writeSnapshot(this.db, filter, write);
  }

  /** Whether this database accepts writes, or refuses them after a detected restore or failover (migration 0011). */
  async writeFence(): Promise<FenceStatus> {
    return (await restore()).writeFence(this.db);
  }

  /** Re-open writes after a detected restore or failover without reconciling (the schema owner only); audited. */
  async acceptRestore(): Promise<FenceProblem | null> {
    return (await restore()).acceptRestore(this.db);
  }

  /** "manual" (default) or "synchronous": whether a promoted standby is accepted without an operator. */
  async setFailoverPolicy(policy: "manual" | "synchronous"): Promise<void> {
    return (await restore()).changeFailoverPolicy(this.db, policy);
  }

  /** Re-create the subnets and re-assert the allocations Pulumi state holds after a restore, report conflicts, re-open writes (the schema owner only). */
  async reconcile(input: ReconcileInput, options: { dryRun?: boolean } = {}): Promise<ReconcileReport> {
    return (await restore()).reconcileFromState(this.db, input, { dryRun: options.dryRun ?? false });
  }

  /** Load a snapshot all-or-nothing, in one transaction holding each new subnet's lock. */
  async importSnapshot(input: unknown, options: Partial<ImportOptions> = {}): Promise<ImportResult> {
    return (await snapshots()).importSnapshot(this.db, input, options);
  }
}

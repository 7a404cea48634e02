import type { DatabasePool, DatabaseTransactionConnection } from "slonik";
import { sql } from "slonik";
import { z } from "zod";
import { parseAddress, parseCidr, parseSubnetCidr, formatAddress } from "../core/address.js";
import {
  AddressInUseError,
  ConflictError,
  InvalidInputError,
  NotFoundError,
  OutcomeUnknownError,
  OverlapError,
  RetryableDatabaseError,
  LockTimeoutError,
  SubnetExhaustedError,
  SubnetInUseError,
  SupersededError,
} from "../core/errors.js";
import {
  allocateSchema,
  allocationFilterSchema,
  allocationIdSchema,
  claimOptionsSchema,
  claimSchema,
  createSubnetSchema,
  idempotencyKeySchema,
  LIMITS,
  ownerSchema,
  pageSchema,
  parseInput,
  resizeSchema,
  subnetFilterSchema,
  subnetIdSchema,
  updateSubnetSchema,
  type AllocateInput,
  type CreateSubnetInput,
  type UpdateSubnetInput,
} from "../core/schemas.js";
import { buildLayout, specificAddressProblem, type SubnetLayout } from "../core/subnetLayout.js";
import { sameRanges } from "../core/range.js";
import type { Allocation, AllocationResult, ReleaseResult, Subnet, SubnetUpdateResult, SubnetUsage } from "../core/types.js";
import { allocateAddresses, growAllocation } from "./allocations/addressAllocator.js";
import {
  allocationFromRow,
  allocationHolding,
  allocationResultFromRow,
  allocationSubnet,
  countAllocations,
  deleteAllocation,
  getAllocationByKey,
  getAllocationRow,
  listAllocationRows,
  releaseHighest,
} from "./allocations/allocationQueries.js";
import { allocationClaim, isSuperseded, recordAllocationClaim, recordSubnetClaim, topLevelSubnetByKey } from "./claims/claims.js";
import { constraintOf, sqlStateOf, wrapDatabaseError } from "./database/databaseErrors.js";
import { parseConnectionUrl } from "./database/connectionOptions.js";
import { createDatabasePool, DEFAULT_MAX_CONNECTIONS } from "./database/databasePool.js";
import { rebuildFreeRanges, returnToFreeSpace } from "./space/freeSpace.js";
import { assertIpamOptions } from "./ipamOptions.js";
import { readInstallationId } from "./schema/installation.js";
import { withLockHolder } from "./database/lockHolder.js";
import { refuseAllocationMismatch, refuseSubnetMismatch, type AllocationAsked } from "./claims/replayCheck.js";
import { inLockedTransaction, inTimedRead, type TransactionSettings } from "./database/lockedTransaction.js";
import { hasPendingMigrations, migrate } from "./schema/migrate.js";
import { NextFreeBatcher } from "./allocations/nextFreeBatcher.js";
import type { AllocationRow } from "./database/rows.js";
import { DEFAULT_SCHEMA } from "./database/schemaName.js";
import { layoutOf, subnetFromRow } from "./subnets/subnetRecords.js";
import {
  deleteSubnetRow,
  findOverlapping,
  getSubnetRow,
  insertSubnet,
  listSubnetRows,
  updateSubnetRow,
  upsertNamespace,
} from "./subnets/subnetQueries.js";
import { tablesFor, type Tables } from "./database/tables.js";
import { assertChildRules, NO_CHILD_RULES, type ChildRules } from "../core/prefixPolicy.js";
import { childPageSchema, subnetPageSchema } from "../core/schemas.js";
import type { SubnetTreeEntry } from "../core/types.js";
import { releaseChildBlock } from "./children/childAllocator.js";
import { countChildren, listChildRows, parentOf } from "./children/childQueries.js";
import { MAX_TREE_DEPTH, readSubnetTree, type TreeTruncation } from "./reports/subnetTree.js";
import { carveChildSubnet, requestedRules } from "./children/childSubnets.js";
import { assertDirectAllocationAllowed, checkParentUpdate, refuseIfChildrenOnly } from "./children/parentGuards.js";
import { readSubnetUsage } from "./reports/subnetUsage.js";

import { historyFilterSchema, type AuditEvent, type HistoryFilter } from "../core/historyFilter.js";
import { refuseIdsNearLimit, validateSnapshot, type Snapshot } from "../core/snapshot.js";
import { inConsistentRead } from "./database/consistentRead.js";
import { ConnectionGate } from "./database/connectionGate.js";
import { listAuditEvents } from "./reports/historyQueries.js";
import { importSnapshot, type ImportOptions, type ImportResult } from "./snapshots/snapshotImport.js";
import { readSnapshot, writeSnapshot, type SnapshotWrite } from "./snapshots/snapshotExport.js";
import { mapCellBitsSchema, mapGrid, readMapCells, readMapChildBlocks, type SubnetMapData } from "./reports/subnetMapData.js";
import { outsidePoolAddresses, ownerUsageRows, type SubnetUsageReport } from "./reports/usageQueries.js";
import { readUsageReports, readUsageTree, type SubnetTreeReport } from "./reports/usageTree.js";

export type { SubnetUsageReport } from "./reports/usageQueries.js";
export type { SubnetTreeReport } from "./reports/usageTree.js";
export type { SubnetMapData } from "./reports/subnetMapData.js";

export interface IpamOptions {
  readonly databaseUrl: string;
  /** PostgreSQL schema holding every IPAM object (default `ipam`). */
  readonly schema?: string;
  /** Apply pending migrations when opening (default true). */
  readonly migrate?: boolean;
  /** Connections this process may hold (default DEFAULT_MAX_CONNECTIONS); more requests queue for one. */
  readonly maxConnections?: number;
  /** How long a request waits in that queue before POOL_TIMEOUT (retryable; default 30 s). */
  readonly acquireTimeoutMs?: number;
  /** Bounds the wait for a subnet's lock, and every other lock wait (SET LOCAL lock_timeout). */
  readonly lockTimeoutMs?: number;
  /** Bounds every statement, reads included (SET LOCAL statement_timeout). */
  readonly statementTimeoutMs?: number;
  /** Test-only: skip advisory locks to demonstrate what they prevent. */
  readonly unsafeSkipLocking?: boolean;
}

/**
 * The IPAM service over PostgreSQL. Every method validates its input itself (callers are not
 * trusted) and every mutation of a subnet runs in one transaction holding that subnet's
 * transaction-level advisory lock.
 */
export class Ipam {
  /** Group commit for next-free requests (migration 0008). */
  private readonly nextFree: NextFreeBatcher;

  private constructor(
    private readonly pool: DatabasePool,
    private readonly t: Tables,
    private readonly settings: TransactionSettings,
    private readonly gate: ConnectionGate,
  ) {
    // Each batch is one transaction whose timeouts are set first (like every other statement),
    // holding one of the gate's connection slots.
    this.nextFree = new NextFreeBatcher(t, settings.lockTimeoutMs, (work) => this.locked([], "allocating", work));
  }

  /**
   * Connect (and by default migrate).
   * @throws ConfigurationError for bad options, a bad schema name or a malformed URL; DatabaseUnavailableError when the server cannot be reached
   */
  static async open(options: IpamOptions): Promise<Ipam> {
    assertIpamOptions(options);
    const schema = options.schema ?? DEFAULT_SCHEMA;
    const t = tablesFor(schema);
    const connection = parseConnectionUrl(options.databaseUrl);
    const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    const pool = await createDatabasePool(connection, { maxConnections });
    const ipam = new Ipam(
      pool,
      t,
      {
        lockTimeoutMs: options.lockTimeoutMs ?? 30_000,
        statementTimeoutMs: options.statementTimeoutMs ?? 60_000,
        unsafeSkipLocking: options.unsafeSkipLocking ?? false,
      },
      new ConnectionGate(maxConnections, options.acquireTimeoutMs ?? 30_000),
    );
    try {
      // Checked on a pool connection: an up-to-date database costs no extra connection to open.
      if (options.migrate !== false && (await ipam.read("checking the schema version", (db) => hasPendingMigrations(db, schema)))) {
        await migrate(connection, schema);
      }
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw error;
    }
    return ipam;
  }

  /** Operations holding or waiting for one of this process's connections (tests, bench). */
  connectionState(): { running: number; waiting: number; size: number } {
    return { ...this.gate.state(), size: this.gate.size };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /**
   * This database's identity (migration 0006): random, made once, the same through any URL.
   * @throws DatabaseUnavailableError, DatabaseError
   */
  async installationId(): Promise<string> {
    return this.read("reading the database identity", (db) => readInstallationId(db, this.t));
  }

  /**
   * A top-level subnet (`cidr`), or a child carved from `parentId` (see README "Child subnets"):
   * `prefixLength` (else the parent's `defaultPrefixLength`) chosen by `strategy` ("first-fit",
   * default, or "best-fit"), or a specific `cidr` inside the parent. The child takes the parent's
   * namespace; with `idempotencyKey`, repeating the request returns the same child.
   * @throws InvalidInputError, OverlapError; for a child also NotFoundError (parent), PrefixExhaustedError
   *   (SUBNET_EXHAUSTED), ConflictError (a specific cidr over the parent's own addresses), IdempotencyMismatchError
   */
  async createSubnet(input: CreateSubnetInput): Promise<Subnet> {
    const fields = parseInput(createSubnetSchema, input);
    if (fields.parentId !== undefined) {
      return this.locked([Number(fields.parentId)], "creating a child subnet", (tx) => carveChildSubnet(tx, this.t, fields));
    }
    const layout = buildLayout(parseSubnetCidr(fields.cidr, "cidr"), fields);
    const rules = requestedRules(fields, NO_CHILD_RULES);
    assertChildRules(layout.cidr, rules);
    const namespace = fields.namespace ?? "default";
    const key = fields.idempotencyKey ?? null;
    const replayed = key === null ? null : await this.replaySubnet(namespace, key, layout, fields.childrenOnly ?? false, rules, fields.claim);
    if (replayed !== null) return replayed;
    try {
      return await this.locked([], "creating a subnet", async (tx) => {
        const namespaceId = await upsertNamespace(tx, this.t, namespace);
        const columns = { layout, description: fields.description ?? "", tags: fields.tags ?? {}, childrenOnly: fields.childrenOnly ?? false, rules, idempotencyKey: key };
        const id = await insertSubnet(tx, this.t, namespaceId, null, columns);
        await rebuildFreeRanges(tx, this.t, id, layout.available);
        return subnetFromRow((await getSubnetRow(tx, this.t, id))!, layout);
      });
    } catch (error) {
      // COMMIT's answer was lost: the key says whether the subnet was made.
      if (error instanceof OutcomeUnknownError && key !== null) return this.resolveLostCommit(error, () => this.replaySubnet(namespace, key, layout, fields.childrenOnly ?? false, rules, fields.claim));
      const state = sqlStateOf(error);
      // A concurrent twin of this request (same key) committed first: return what it created.
      const twin = key !== null && (state === "23P01" || state === "23505") ? await this.replaySubnet(namespace, key, layout, fields.childrenOnly ?? false, rules, fields.claim) : null;
      if (twin !== null) return twin;
      if (state === "23P01") {
        throw new OverlapError(layout.cidr.text, namespace, (await this.safe(() => this.read("reading subnets", (db) => findOverlapping(db, this.t, namespace, layout.cidr.text)))) ?? undefined);
      }
      throw wrapDatabaseError(error, "creating a subnet");
    }
  }

  /**
   * The top-level subnet an earlier request with this key created (recording `claim` as its
   * latest claimant), or null when there is none.
   * @throws IdempotencyMismatchError when that subnet differs in anything but claim, description and tags
   */
  private async replaySubnet(
    namespace: string,
    key: string,
    layout: SubnetLayout,
    childrenOnly: boolean,
    rules: ChildRules,
    claim: string | undefined,
  ): Promise<Subnet | null> {
    const earlier = await this.read("reading a subnet", (db) => topLevelSubnetByKey(db, this.t, namespace, key));
    if (earlier === null) return null;
    const subnet = subnetFromRow(earlier);
    refuseSubnetMismatch(key, subnet, layout, childrenOnly, rules);
    if (claim === undefined || earlier.claim === claim) return subnet;
    return this.locked([earlier.id], "claiming a subnet", async (tx) => {
      if (!(await recordSubnetClaim(tx, this.t, { id: earlier.id, cidr: earlier.cidr }, claim))) return null;
      return subnetFromRow((await getSubnetRow(tx, this.t, earlier.id))!);
    });
  }

  /** @throws InvalidInputError, NotFoundError */
  async getSubnet(subnetId: string): Promise<Subnet> {
    const id = this.subnetKey(subnetId);
    const row = await this.read("reading a subnet", (db) => getSubnetRow(db, this.t, id));
    if (row === null) throw new NotFoundError("subnet", subnetId);
    return subnetFromRow(row);
  }

  async listSubnets(filter: { namespace?: string } = {}): Promise<Subnet[]> {
    const { namespace } = parseInput(subnetFilterSchema, filter);
    const rows = await this.read("listing subnets", (db) => listSubnetRows(db, this.t, { namespace }));
    return rows.map((row) => subnetFromRow(row));
  }

  /**
   * `listSubnets` a page at a time (keyset: a deep page costs what the first does): pass the
   * returned `next` as `after`.
   * @throws InvalidInputError, NotFoundError (the subnet `after` names no longer exists)
   */
  async listSubnetPage(filter: { namespace?: string } = {}, page: { limit?: number; after?: string } = {}): Promise<{ subnets: Subnet[]; next: string | null }> {
    const { namespace } = parseInput(subnetFilterSchema, filter);
    const { limit = 100, after } = parseInput(subnetPageSchema, page);
    return this.consistent("listing subnets", async (tx) => {
      const rows = await this.subnetPageRows(tx, namespace, limit, after);
      return { subnets: rows.map((row) => subnetFromRow(row)), next: rows.length === limit ? String(rows.at(-1)!.id) : null };
    });
  }

  /** @throws NotFoundError when the subnet `after` names no longer exists (its key is the cursor) */
  private async subnetPageRows(tx: DatabaseTransactionConnection, namespace: string | undefined, limit: number, after: string | undefined) {
    if (after !== undefined && (await getSubnetRow(tx, this.t, Number(after))) === null) throw new NotFoundError("subnet", after);
    return listSubnetRows(tx, this.t, { namespace }, { limit, after: after === undefined ? undefined : Number(after) });
  }

  /**
   * Change pools, gateway, reserved, description, tags, childrenOnly or the child rules while
   * addresses and children are in use (existing children outside new rules stay).
   * @throws InvalidInputError, NotFoundError, ConflictError (gateway or reserved over allocated addresses
   *   or children; childrenOnly while the subnet holds allocations), SupersededError (an older `claim`)
   */
  async updateSubnet(subnetId: string, patch: UpdateSubnetInput, options: { claim?: string } = {}): Promise<SubnetUpdateResult> {
    const id = this.subnetKey(subnetId);
    const changes = parseInput(updateSubnetSchema, patch);
    const { claim } = parseInput(claimOptionsSchema, options);
    return this.locked([id], "updating a subnet", async (tx) => {
      const row = await getSubnetRow(tx, this.t, id);
      if (row === null) throw new NotFoundError("subnet", subnetId);
      if (isSuperseded(row.claim, claim)) throw new SupersededError("subnet", subnetId);
      const current = layoutOf(row);
      const layout = buildLayout(current.cidr, {
        allocationPools: changes.allocationPools === undefined ? (row.pools_explicit ? row.pools : null) : changes.allocationPools,
        gateway: changes.gateway === undefined ? row.gateway : changes.gateway,
        reserved: changes.reserved === undefined ? row.reserved : changes.reserved,
      });
      await this.refuseBlockedAddresses(tx, id, layout);
      const forChildren = await checkParentUpdate(tx, this.t, row, layout, changes);
      const columns = { layout, description: changes.description ?? row.description, tags: changes.tags ?? row.tags, ...forChildren };
      await updateSubnetRow(tx, this.t, id, columns);
      const layoutChanged = !sameRanges(layout.available, current.available) || forChildren.childrenOnly !== row.children_only;
      if (layoutChanged) await rebuildFreeRanges(tx, this.t, id, layout.available);
      const outside = await this.addressesOutsidePools(tx, id, layout);
      return { subnet: subnetFromRow((await getSubnetRow(tx, this.t, id))!, layout), allocationsOutsidePools: outside };
    });
  }

  /**
   * Remove a subnet; refused while it has allocations or children. A child's block goes back to
   * its parent (the parent's lock is taken first). Deleting a missing subnet returns false; with a
   * `claim` older than the subnet's latest claimant, nothing changes and `superseded` is true.
   * @throws SubnetInUseError naming the first few allocations or children (`what`)
   */
  async deleteSubnet(subnetId: string, options: { claim?: string } = {}): Promise<{ deleted: boolean; superseded?: boolean }> {
    const id = this.subnetKey(subnetId);
    const { claim } = parseInput(claimOptionsSchema, options);
    const parentId = await this.read("reading a subnet", (db) => parentOf(db, this.t, id));
    return this.locked(parentId === null ? [id] : [parentId, id], "deleting a subnet", async (tx) => {
      const row = await getSubnetRow(tx, this.t, id);
      if (row === null) return { deleted: false };
      // A parent never changes; only a subnet created after the read (snapshot import) can get here.
      if (row.parent_id !== parentId) throw new RetryableDatabaseError("the subnet was replaced while deleting it");
      if (isSuperseded(row.claim, claim)) return { deleted: false, superseded: true };
      const { count, examples } = await countAllocations(tx, this.t, id);
      if (count > 0) throw new SubnetInUseError(subnetId, count, examples);
      const children = await countChildren(tx, this.t, id);
      if (children.count > 0) throw new SubnetInUseError(subnetId, children.count, children.examples, "child subnet");
      await deleteSubnetRow(tx, this.t, id);
      if (parentId !== null) {
        const parent = (await getSubnetRow(tx, this.t, parentId))!;
        await releaseChildBlock(tx, this.t, { id: parentId, row: parent, layout: layoutOf(parent) }, layoutOf(row).cidr);
      }
      return { deleted: true };
    });
  }

  /**
   * A parent's direct children in address order, in pages: pass the returned `next` as `after`.
   * @throws InvalidInputError, NotFoundError
   */
  async listChildren(parentId: string, page: { limit?: number; after?: string } = {}): Promise<{ subnets: Subnet[]; next: string | null }> {
    const id = this.subnetKey(parentId);
    const { limit = 100, after } = parseInput(childPageSchema, page);
    const from = after === undefined ? null : parseCidr(after, "after");
    return this.consistent("listing child subnets", async (tx) => {
        if ((await getSubnetRow(tx, this.t, id)) === null) throw new NotFoundError("subnet", parentId);
        const rows = await listChildRows(tx, this.t, id, limit, from);
        return { subnets: rows.map((row) => subnetFromRow(row)), next: rows.length === limit ? rows.at(-1)!.cidr : null };
    });
  }

  /**
   * A subnet and its descendants, depth first with children in address order, each with its
   * usage, read at one moment: what \`ipam usage\` and \`ipam map\` show as a tree. Every level by
   * default; `truncated` with `truncatedReason` says when `limit` or `maxDepth` left subnets out.
   * @throws InvalidInputError, NotFoundError
   */
  async subnetTree(subnetId: string, options: { maxDepth?: number; limit?: number } = {}): Promise<{ entries: SubnetTreeEntry[] } & TreeTruncation> {
    const id = this.subnetKey(subnetId);
    const maxDepth = parseInput(z.number().int().min(0).max(MAX_TREE_DEPTH), options.maxDepth ?? MAX_TREE_DEPTH, "maxDepth");
    const limit = parseInput(z.number().int().min(1).max(LIMITS.pageSize), options.limit ?? LIMITS.pageSize, "limit");
    return this.consistent("reading a subnet tree", async (tx) => {
        const tree = await readSubnetTree(tx, this.t, id, maxDepth, limit);
        if (tree.entries.length === 0) throw new NotFoundError("subnet", subnetId);
        return tree;
    });
  }

  /**
   * Allocate a specific address, the lowest free one, a random free one, or `count` at once
   * (all or nothing). With an idempotency key, repeating the request returns the first result.
   * @throws InvalidInputError, NotFoundError, AddressInUseError, SubnetExhaustedError, IdempotencyMismatchError
   */
  async allocate(input: AllocateInput): Promise<AllocationResult> {
    const request = parseInput(allocateSchema, input);
    const subnetId = Number(request.subnetId);
    const address = request.address === undefined ? null : parseAddress(request.address, "address");
    const strategy = address !== null ? "specific" : (request.strategy ?? "sequential");
    const key = request.idempotencyKey ?? null;
    const asked: AllocationAsked = { owner: request.owner, count: request.count ?? 1, strategy, address: address?.text ?? null };
    const nextFree = address === null && strategy === "sequential" && (request.count ?? 1) === 1 && this.settings.unsafeSkipLocking !== true;
    // The next-free statement meets an earlier request with the same key as a unique violation (or,
    // in a full subnet, as exhaustion), both replayed below, so a first request costs one round
    // trip. Other paths check first: they could fail on the address before reaching the key.
    if (key !== null && !nextFree) {
      const earlier = await this.replayAllocation(subnetId, key, asked, request.claim);
      if (earlier !== null) return allocationResultFromRow(earlier, false);
    }
    try {
      if (nextFree) {
        // The hot path: served with the other next-free requests waiting in this process by one
        // statement (group commit, migration 0008); the lock is held for server-side work only.
        const next = { subnetId, owner: request.owner, idempotencyKey: key, description: request.description ?? "", tags: request.tags ?? {} };
        try {
          return allocationResultFromRow(await this.nextFree.allocate(next), true);
        } catch (error) {
          if (error instanceof SubnetExhaustedError) {
            const earlier = key === null ? null : await this.replayAllocation(subnetId, key, asked, request.claim);
            if (earlier !== null) return allocationResultFromRow(earlier, false);
            await this.read("reading a subnet", (db) => refuseIfChildrenOnly(db, this.t, subnetId));
          }
          if (error instanceof LockTimeoutError) throw await withLockHolder(this.pool, error);
          throw error;
        }
      }
      return await this.locked([subnetId], "allocating", async (tx) => {
        const row = await getSubnetRow(tx, this.t, subnetId);
        if (row === null) throw new NotFoundError("subnet", request.subnetId);
        const layout = layoutOf(row);
        if (address !== null) {
          const problem = specificAddressProblem(layout, address);
          if (problem !== null) throw InvalidInputError.of("address", problem);
        }
        await assertDirectAllocationAllowed(tx, this.t, row, address);
        const id = await allocateAddresses(tx, this.t, {
          subnetId,
          layout,
          owner: request.owner,
          idempotencyKey: key,
          strategy,
          address,
          count: request.count ?? 1,
          description: request.description ?? "",
          tags: request.tags ?? {},
        });
        return allocationResultFromRow((await getAllocationRow(tx, this.t, id))!, true);
      });
    } catch (error) {
      if (error instanceof OutcomeUnknownError && key !== null) {
        const made = await this.resolveLostCommit(error, () => this.replayAllocation(subnetId, key, asked, request.claim));
        return allocationResultFromRow(made, true);
      }
      const constraint = constraintOf(error);
      if (sqlStateOf(error) === "23505" && constraint === "allocation_idempotency_key" && key !== null) {
        const earlier = await this.replayAllocation(subnetId, key, asked, request.claim);
        if (earlier !== null) return allocationResultFromRow(earlier, false);
      }
      if (sqlStateOf(error) === "23505" && address !== null && constraint?.startsWith("allocated_address")) {
        throw new AddressInUseError(request.subnetId, address.text);
      }
      throw wrapDatabaseError(error, "allocating");
    }
  }

  /**
   * Take over an existing allocation (made by the CLI or another stack): `owner` becomes its owner
   * and `claim` its latest claimant, so the previous holder's release or refresh is superseded.
   * @throws InvalidInputError, NotFoundError
   */
  async adoptAllocation(input: { allocationId: string; owner: string; claim: string }): Promise<Allocation> {
    const fields = parseInput(z.strictObject({ allocationId: allocationIdSchema, owner: ownerSchema, claim: claimSchema }), input);
    const adopted = await this.claimAllocation(fields.allocationId, fields.claim, fields.owner);
    if (adopted === null) throw new NotFoundError("allocation", fields.allocationId);
    return allocationFromRow(adopted);
  }

  /** @throws InvalidInputError, NotFoundError */
  async getAllocation(allocationId: string): Promise<Allocation> {
    const id = parseInput(allocationIdSchema, allocationId, "allocationId");
    const row = await this.read("reading an allocation", (db) => getAllocationRow(db, this.t, id));
    if (row === null) throw new NotFoundError("allocation", allocationId);
    return allocationFromRow(row);
  }

  async findAllocationByKey(subnetId: string, idempotencyKey: string): Promise<Allocation | null> {
    const id = this.subnetKey(subnetId);
    const key = parseInput(idempotencyKeySchema, idempotencyKey, "idempotencyKey");
    const row = await this.read("reading an allocation", (db) => getAllocationByKey(db, this.t, id, key));
    return row === null ? null : allocationFromRow(row);
  }

  /** Allocations of a subnet (or of an owner), by id, in pages: pass the returned `next` as `after`. */
  async listAllocations(
    filter: { subnetId?: string; owner?: string },
    page: { limit?: number; after?: string } = {},
  ): Promise<{ allocations: Allocation[]; next: string | null }> {
    const { limit = 100, after } = parseInput(pageSchema, page);
    const { subnetId, owner } = parseInput(allocationFilterSchema, filter);
    const rows = await this.read("listing allocations", (db) =>
      listAllocationRows(
        db,
        this.t,
        { ...(subnetId === undefined ? {} : { subnetId: Number(subnetId) }), ...(owner === undefined ? {} : { owner }) },
        limit,
        after,
      ),
    );
    return { allocations: rows.map(allocationFromRow), next: rows.length === limit ? rows.at(-1)!.id : null };
  }

  /** Which allocation holds `address` in a subnet, or null. */
  async whoHolds(subnetId: string, address: string): Promise<Allocation | null> {
    const id = this.subnetKey(subnetId);
    const parsed = parseAddress(address, "address");
    const row = await this.read("looking up an address", (db) => allocationHolding(db, this.t, id, parsed.text));
    return row === null ? null : allocationFromRow(row);
  }

  /**
   * Release an allocation and all its addresses. Releasing twice is harmless. With a `claim` older
   * than the allocation's latest claimant, nothing changes and `superseded` is true.
   */
  async release(allocationId: string, options: { claim?: string } = {}): Promise<ReleaseResult> {
    const id = parseInput(allocationIdSchema, allocationId, "allocationId");
    const { claim } = parseInput(claimOptionsSchema, options);
    const subnetId = await this.read("reading an allocation", (db) => allocationSubnet(db, this.t, id));
    if (subnetId === null) return { released: false, addresses: [] };
    return this.locked([subnetId], "releasing", async (tx) => {
      const stored = await allocationClaim(tx, this.t, id);
      if (stored !== undefined && isSuperseded(stored, claim)) return { released: false, addresses: [], superseded: true };
      const row = await getSubnetRow(tx, this.t, subnetId);
      const freed = await deleteAllocation(tx, this.t, id);
      if (freed.owner === null) return { released: false, addresses: [] };
      await returnToFreeSpace(tx, this.t, subnetId, layoutOf(row!), freed.ordinals);
      const addresses = this.sorted(row!, freed.ordinals);
      return { released: true, addresses };
    });
  }

  /**
   * Change how many addresses an allocation holds: growing adds addresses with its strategy and
   * keeps the existing ones; shrinking releases its highest addresses.
   * @throws InvalidInputError, NotFoundError, SubnetExhaustedError, SupersededError (an older `claim`)
   */
  async resizeAllocation(input: { allocationId: string; count: number; claim?: string }): Promise<{ allocation: Allocation; released: string[] }> {
    const { allocationId, count, claim } = parseInput(resizeSchema, input);
    const subnetId = await this.read("reading an allocation", (db) => allocationSubnet(db, this.t, allocationId));
    if (subnetId === null) throw new NotFoundError("allocation", allocationId);
    return this.locked([subnetId], "resizing an allocation", async (tx) => {
      const current = await getAllocationRow(tx, this.t, allocationId);
      if (current === null) throw new NotFoundError("allocation", allocationId);
      if (isSuperseded(current.claim, claim)) throw new SupersededError("allocation", allocationId);
      const row = (await getSubnetRow(tx, this.t, subnetId))!;
      const layout = layoutOf(row);
      const held = current.ordinals.length;
      let released: string[] = [];
      if (count > held) {
        if (current.strategy === "specific") throw InvalidInputError.of("count", "an allocation of a specific address holds exactly one address");
        await growAllocation(tx, this.t, { subnetId, layout, owner: current.owner, strategy: current.strategy }, allocationId, count - held);
      } else if (count < held) {
        const freed = await releaseHighest(tx, this.t, subnetId, allocationId, held - count);
        await returnToFreeSpace(tx, this.t, subnetId, layout, freed.ordinals);
        released = this.sorted(row, freed.ordinals);
      }
      return { allocation: allocationFromRow((await getAllocationRow(tx, this.t, allocationId))!), released };
    });
  }

  /**
   * Update the description and tags of an allocation.
   * @throws InvalidInputError, NotFoundError, SupersededError (an older `claim`)
   */
  async updateAllocation(input: { allocationId: string; description?: string; tags?: Record<string, string>; claim?: string }): Promise<Allocation> {
    const fields = parseInput(
      z.strictObject({ allocationId: allocationIdSchema, description: allocateSchema.shape.description, tags: allocateSchema.shape.tags, claim: claimSchema.optional() }),
      input,
    );
    const subnetId = await this.read("reading an allocation", (db) => allocationSubnet(db, this.t, fields.allocationId));
    if (subnetId === null) throw new NotFoundError("allocation", fields.allocationId);
    return this.locked([subnetId], "updating an allocation", async (tx) => {
      const stored = await allocationClaim(tx, this.t, fields.allocationId);
      if (stored !== undefined && isSuperseded(stored, fields.claim)) throw new SupersededError("allocation", fields.allocationId);
      await tx.query(sql.unsafe`
        UPDATE ${this.t.allocation}
        SET description = coalesce(${fields.description ?? null}, description),
            tags = coalesce(${fields.tags === undefined ? null : sql.jsonb(fields.tags)}, tags), updated_at = now()
        WHERE id = ${fields.allocationId}::bigint
      `);
      const row = await getAllocationRow(tx, this.t, fields.allocationId);
      if (row === null) throw new NotFoundError("allocation", fields.allocationId);
      return allocationFromRow(row);
    });
  }

  /** Totals for a subnet, as decimal strings; children count in `childPrefixes`/`childAddresses`. */
  async usage(subnetId: string): Promise<SubnetUsage> {
    const id = this.subnetKey(subnetId);
    return this.consistent("computing usage", async (tx) => {
        const row = await getSubnetRow(tx, this.t, id);
        if (row === null) throw new NotFoundError("subnet", subnetId);
        return readSubnetUsage(tx, this.t, row);
    });
  }

  /**
   * Who allocated, grew, shrank and released what, and every subnet change, newest first, from the
   * audit table the database writes (migration 0007 triggers) with each change. Pass `next` as `before`.
   * @throws InvalidInputError
   */
  async history(filter: HistoryFilter = {}): Promise<{ events: AuditEvent[]; next: string | null }> {
    const query = parseInput(historyFilterSchema, filter);
    const address = query.address === undefined ? undefined : parseAddress(query.address, "address").text;
    const limit = query.limit ?? 100;
    const events = await this.read("reading history", (db) =>
      listAuditEvents(db, this.t, { ...query, subnetId: query.subnetId === undefined ? undefined : Number(query.subnetId), address, limit }),
    );
    return { events, next: events.length === limit ? events.at(-1)!.id : null };
  }

  /**
   * Usage of one subnet with its holders and the allocated addresses outside its pools.
   * @throws InvalidInputError, NotFoundError
   */
  async usageReport(subnetId: string): Promise<SubnetUsageReport> {
    const usage = await this.usage(subnetId);
    const id = Number(usage.subnetId);
    return this.consistent("computing usage", async (tx) => {
        const row = await getSubnetRow(tx, this.t, id);
        if (row === null) throw new NotFoundError("subnet", subnetId);
        const layout = layoutOf(row);
        const owners = await ownerUsageRows(tx, this.t, id);
        const outsidePool = await outsidePoolAddresses(tx, this.t, id, layout, LIMITS.pageSize);
        return { subnet: subnetFromRow(row, layout), usage, owners, outsidePool };
    });
  }

  /**
   * `usageReport` of every subnet (of one namespace, or all) a page at a time, in `listSubnetPage`
   * order, each page read at one moment: what `ipam usage` without a subnet shows. Pass the
   * returned `next` as `after`.
   * @throws InvalidInputError, NotFoundError (the subnet `after` names no longer exists)
   */
  async usagePage(filter: { namespace?: string } = {}, page: { limit?: number; after?: string } = {}): Promise<{ reports: SubnetUsageReport[]; next: string | null }> {
    const { namespace } = parseInput(subnetFilterSchema, filter);
    const { limit = 100, after } = parseInput(subnetPageSchema, page);
    return this.consistent("computing usage", async (tx) => {
      const rows = await this.subnetPageRows(tx, namespace, limit, after);
      return { reports: await readUsageReports(tx, this.t, rows), next: rows.length === limit ? String(rows.at(-1)!.id) : null };
    });
  }

  /**
   * `usageReport` for a subnet and each of its descendants (depth first, children in address
   * order, at most `limit`, default 1,000), read at one moment: what `ipam usage SUBNET` shows.
   * `truncated` with `truncatedReason` says when subnets were left out.
   * @throws InvalidInputError, NotFoundError
   */
  async usageTreeReport(subnetId: string, options: { limit?: number } = {}): Promise<{ reports: SubnetTreeReport[] } & TreeTruncation> {
    const id = this.subnetKey(subnetId);
    const limit = parseInput(z.number().int().min(1).max(LIMITS.pageSize), options?.limit ?? LIMITS.pageSize, "limit");
    return this.consistent("computing usage", async (tx) => {
        const tree = await readUsageTree(tx, this.t, id, limit);
        if (tree.reports.length === 0) throw new NotFoundError("subnet", subnetId);
        return tree;
    });
  }

  /**
   * What a picture of the subnet needs: its layout, per cell of a grid of at most 2^maxCellBits
   * cells (default 1,024) who holds its addresses, and the cells its child subnets cover.
   * @throws InvalidInputError, NotFoundError
   */
  async subnetMap(subnetId: string, options: { maxCellBits?: number } = {}): Promise<SubnetMapData> {
    const id = this.subnetKey(subnetId);
    const bits = parseInput(mapCellBitsSchema, options?.maxCellBits ?? 10, "maxCellBits");
    return this.consistent("reading a subnet map", async (tx) => {
        const row = await getSubnetRow(tx, this.t, id);
        if (row === null) throw new NotFoundError("subnet", subnetId);
        const layout = layoutOf(row);
        const grid = mapGrid(layout, bits);
        const cells = await readMapCells(tx, this.t, id, layout, grid);
        const childBlocks = await readMapChildBlocks(tx, this.t, id, layout, grid);
        return { subnet: subnetFromRow(row, layout), grid, cells, owners: await ownerUsageRows(tx, this.t, id), childBlocks };
    });
  }

  /** Subnets and allocations (all, or of one namespace) as one consistent, versioned JSON snapshot. */
  async exportSnapshot(filter: { namespace?: string } = {}): Promise<Snapshot> {
    const { namespace } = parseInput(subnetFilterSchema, filter);
    return this.consistent("exporting", (tx) => readSnapshot(tx, this.t, { namespace }));
  }

  /**
   * `exportSnapshot` written to `write` as it is read, in the same text as `displayJson(snapshot, 2)`:
   * memory does not grow with the number of allocations. `write` resolving is the backpressure.
   * @returns how many subnets and allocations were written
   * @throws what `write` throws, as it is (a full disk is not a database error); InvalidInputError
   */
  async writeSnapshot(filter: { namespace?: string }, write: SnapshotWrite): Promise<{ subnets: number; allocations: number }> {
    const { namespace } = parseInput(subnetFilterSchema, filter);
    const failed: { error?: unknown } = {};
    const sink: SnapshotWrite = (chunk) => write(chunk).catch((error: unknown) => Promise.reject((failed.error = error)));
    try {
      return await this.consistent("exporting", (tx) => writeSnapshot(tx, this.t, { namespace }, sink));
    } catch (error) {
      throw "error" in failed ? failed.error : error;
    }
  }

  /**
   * Load a snapshot all-or-nothing: validated like every core request, written in one transaction
   * holding each new subnet's lock, ids kept unless `newIds`.
   * @throws InvalidInputError naming each bad field, SnapshotConflictError, OverlapError
   */
  async importSnapshot(input: unknown, options: Partial<ImportOptions> = {}): Promise<ImportResult> {
    const snapshot = validateSnapshot(input);
    if (options.newIds !== true) refuseIdsNearLimit(snapshot);
    const importOptions = { newIds: options.newIds ?? false, ...(options.onProgress ? { onProgress: options.onProgress } : {}) };
    return this.gate.run("importing a snapshot", () => importSnapshot(this.pool, this.t, this.settings, snapshot, importOptions));
  }

  /** Refuse a layout whose gateway or reserved ranges cover allocated addresses, naming them. */
  private async refuseBlockedAddresses(tx: Parameters<Parameters<DatabasePool["transaction"]>[0]>[0], id: number, layout: SubnetLayout): Promise<void> {
    const version = layout.cidr.version;
    const check = async (field: string, ranges: readonly { first: bigint; last: bigint }[], reason: string) => {
      if (ranges.length === 0) return;
      const hits = await tx.anyFirst(sql.type(z.object({ ordinal: z.string() }))`
        SELECT a.ordinal::text AS ordinal FROM ${this.t.allocatedAddress} a
        JOIN unnest(${sql.array(ranges.map((r) => r.first.toString()), "numeric")},
                    ${sql.array(ranges.map((r) => r.last.toString()), "numeric")}) AS r(lo, hi) ON a.ordinal BETWEEN r.lo AND r.hi
        WHERE a.subnet_id = ${id} ORDER BY a.ordinal LIMIT 20
      `);
      if (hits.length > 0) throw new ConflictError(field, reason, hits.map((ordinal) => formatAddress(version, BigInt(ordinal))));
    };
    if (layout.gateway !== null) {
      await check("gateway", [{ first: layout.gateway.value, last: layout.gateway.value }], "the gateway would cover an allocated address");
    }
    await check("reserved", layout.reserved, "reserved ranges would cover allocated addresses");
  }

  private async addressesOutsidePools(tx: Parameters<Parameters<DatabasePool["transaction"]>[0]>[0], id: number, layout: SubnetLayout): Promise<string[]> {
    const ordinals = await tx.anyFirst(sql.type(z.object({ ordinal: z.string() }))`
      SELECT a.ordinal::text AS ordinal FROM ${this.t.allocatedAddress} a
      WHERE a.subnet_id = ${id} AND NOT EXISTS (
        SELECT 1 FROM unnest(${sql.array(layout.pools.map((p) => p.first.toString()), "numeric")},
                             ${sql.array(layout.pools.map((p) => p.last.toString()), "numeric")}) AS p(lo, hi)
        WHERE a.ordinal BETWEEN p.lo AND p.hi)
      ORDER BY a.ordinal LIMIT ${LIMITS.pageSize}
    `);
    return ordinals.map((ordinal) => formatAddress(layout.cidr.version, BigInt(ordinal)));
  }

  /**
   * The allocation an earlier request with this key made (recording `claim` as its latest
   * claimant), or null when there is none (or it was released meanwhile).
   * @throws IdempotencyMismatchError when the earlier request asked for something else
   */
  private async replayAllocation(subnetId: number, key: string, asked: AllocationAsked, claim: string | undefined): Promise<AllocationRow | null> {
    const row = await this.read("reading an allocation", (db) => getAllocationByKey(db, this.t, subnetId, key));
    if (row === null) return null;
    refuseAllocationMismatch(key, allocationFromRow(row), asked);
    if (claim === undefined || row.claim === claim) return row;
    return this.claimAllocation(row.id, claim, null);
  }

  /** Record `claim` (and a new owner) on an allocation under its subnet's lock; null when it is gone. */
  private async claimAllocation(allocationId: string, claim: string, owner: string | null): Promise<AllocationRow | null> {
    const subnetId = await this.read("reading an allocation", (db) => allocationSubnet(db, this.t, allocationId));
    if (subnetId === null) return null;
    return this.locked([subnetId], "claiming an allocation", async (tx) => {
      const subnet = await getSubnetRow(tx, this.t, subnetId);
      if (subnet === null || !(await recordAllocationClaim(tx, this.t, { id: allocationId, subnetId, cidr: subnet.cidr }, claim, owner))) return null;
      return (await getAllocationRow(tx, this.t, allocationId))!;
    });
  }

  private sorted(row: { cidr: string }, ordinals: readonly bigint[]): string[] {
    const version = parseCidr(row.cidr, "cidr").version;
    return [...ordinals].sort((a, b) => (a < b ? -1 : 1)).map((ordinal) => formatAddress(version, ordinal));
  }

  private subnetKey(subnetId: unknown): number {
    return Number(parseInput(subnetIdSchema, subnetId, "subnetId"));
  }

  /**
   * The answer to a COMMIT was lost. What the request's idempotency key finds now is what it
   * committed; nothing found (or the lookup failing too) leaves the outcome unknown, and the
   * original OutcomeUnknownError goes back (retrying the keyed request is safe).
   */
  private async resolveLostCommit<T>(lost: OutcomeUnknownError, lookUp: () => Promise<T | null>): Promise<T> {
    const found = await this.safe(lookUp);
    if (found === null) throw lost;
    return found;
  }

  private locked<T>(ids: readonly number[], doing: string, work: Parameters<typeof inLockedTransaction<T>>[4]): Promise<T> {
    return this.gate.run(doing, () => inLockedTransaction(this.pool, ids, this.settings, doing, work));
  }

  /** Reads on one connection, in a transaction whose timeouts are set first. */
  private read<T>(doing: string, work: (db: DatabaseTransactionConnection) => Promise<T>): Promise<T> {
    return this.gate.run(doing, () => inTimedRead(this.pool, this.settings, doing, work));
  }

  /** Several reads at one snapshot (REPEATABLE READ), with the timeouts set. */
  private consistent<T>(doing: string, work: (tx: DatabaseTransactionConnection) => Promise<T>): Promise<T> {
    return this.gate.run(doing, async () => {
      try {
        return await inConsistentRead(this.pool, this.settings, work);
      } catch (error) {
        throw wrapDatabaseError(error, doing);
      }
    });
  }

  private async safe<T>(work: () => Promise<T>): Promise<T | null> {
    try {
      return await work();
    } catch {
      return null;
    }
  }
}

import { sql, type FragmentSqlToken } from "slonik";
import { z } from "zod";
import type { IpAddress } from "../../core/address.js";
import { SubnetExhaustedError } from "../../core/errors.js";
import type { SubnetLayout } from "../../core/subnetLayout.js";
import type { StoredStrategy } from "../../core/types.js";
import type { ValueRange } from "../../core/range.js";
import { carveFreeRanges } from "../space/freeSpace.js";
import { pickRandom, pickSequential, randomCandidates, RANDOM_CANDIDATES, RANDOM_ROUNDS } from "./addressPicker.js";
import type { Tables } from "../database/tables.js";
import { type BoundConnection } from "../database/storeDatabase.js";

export interface NewAllocation {
  readonly subnetId: number;
  readonly layout: SubnetLayout;
  readonly owner: string;
  readonly idempotencyKey: string | null;
  readonly strategy: StoredStrategy;
  readonly address: IpAddress | null;
  readonly count: number;
  readonly description: string;
  readonly tags: Record<string, string>;
}

const createdRow = z.object({ id: z.string() });

/**
 * Allocate `request.count` addresses as one new allocation. Must run inside the subnet's lock.
 * @returns the new allocation id
 * @throws SubnetExhaustedError; unique violations (address taken, idempotency key reused) propagate as driver errors
 */
export async function allocateAddresses(db: BoundConnection, request: NewAllocation): Promise<string> {
  if (request.count === 1) return allocateOne(db, request);
  const id = await insertAllocation(db, request);
  const pick =
    request.strategy === "random"
      ? await pickRandom(db, request.subnetId, request.layout.available, request.count)
      : await pickSequential(db, request.subnetId, request.count);
  await carveFreeRanges(db, request.subnetId, pick.touched, pick.taken);
  await attachAddresses(db, request, id, pick.taken);
  return id;
}

/** Add addresses to an existing allocation (growing its count) with its own strategy. */
export async function growAllocation(
  db: BoundConnection,
  request: Pick<NewAllocation, "subnetId" | "layout" | "owner" | "strategy">,
  allocationId: string,
  extra: number,
): Promise<void> {
  const pick =
    request.strategy === "random"
      ? await pickRandom(db, request.subnetId, request.layout.available, extra)
      : await pickSequential(db, request.subnetId, extra);
  await carveFreeRanges(db, request.subnetId, pick.touched, pick.taken);
  await attachAddresses(db, request, allocationId, pick.taken);
}

async function insertAllocation(db: BoundConnection, request: NewAllocation): Promise<string> {
  return db.oneFirst(sql.type(createdRow)`
    INSERT INTO ${db.t.allocation} (subnet_id, owner, idempotency_key, strategy, requested_address, description, tags)
    VALUES (${request.subnetId}, ${request.owner}, ${request.idempotencyKey}, ${request.strategy},
            ${request.address?.text ?? null}::inet, ${request.description}, ${sql.jsonb(request.tags)})
    RETURNING id
  `);
}

async function attachAddresses(
  db: BoundConnection,
  request: Pick<NewAllocation, "subnetId" | "layout" | "owner">,
  allocationId: string,
  runs: readonly ValueRange[],
): Promise<void> {
  const version = request.layout.cidr.version;
  await db.query(sql.unsafe`
    INSERT INTO ${db.t.allocatedAddress} (subnet_id, address, ordinal, allocation_id)
    SELECT ${request.subnetId}, ${db.t.ordinalToInet}(o, ${version}), o, ${allocationId}::bigint
    FROM unnest(${sql.array(runs.map((r) => r.first.toString()), "numeric")},
                ${sql.array(runs.map((r) => r.last.toString()), "numeric")}) AS r(lo, hi),
         generate_series(r.lo, r.hi) AS o
  `);
  await db.query(sql.unsafe`UPDATE ${db.t.allocation} SET updated_at = now() WHERE id = ${allocationId}::bigint`);
}

/** The free range (if any) holding the chosen ordinal, as `lo, hi, pick`. */
function hitQuery(t: Tables, request: NewAllocation, candidates: readonly string[]): FragmentSqlToken {
  if (request.address !== null) {
    const ordinal = request.address.value.toString();
    return sql.fragment`
      SELECT first_ordinal AS lo, last_ordinal AS hi, ${ordinal}::numeric AS pick
      FROM (SELECT first_ordinal, last_ordinal FROM ${t.freeRange}
            WHERE subnet_id = ${request.subnetId} AND first_ordinal <= ${ordinal}::numeric
            ORDER BY first_ordinal DESC LIMIT 1) f
      WHERE last_ordinal >= ${ordinal}::numeric`;
  }
  if (request.strategy === "random") {
    return sql.fragment`
      SELECT f.first_ordinal AS lo, f.last_ordinal AS hi, c.pick
      FROM unnest(${sql.array([...candidates], "numeric")}) WITH ORDINALITY AS c(pick, n)
      CROSS JOIN LATERAL (
        SELECT first_ordinal, last_ordinal FROM ${t.freeRange}
        WHERE subnet_id = ${request.subnetId} AND first_ordinal <= c.pick ORDER BY first_ordinal DESC LIMIT 1
      ) f
      WHERE f.last_ordinal >= c.pick
      ORDER BY c.n LIMIT 1`;
  }
  return sql.fragment`
    SELECT first_ordinal AS lo, last_ordinal AS hi, first_ordinal AS pick FROM ${t.freeRange}
    WHERE subnet_id = ${request.subnetId} ORDER BY first_ordinal LIMIT 1`;
}

/**
 * One address in a single statement (the hot path): find the free range, cut the address out of
 * it, insert the allocation and its address (the audit trigger logs it). The statement runs after the lock
 * was granted, so its snapshot includes every earlier holder's commit.
 */
async function allocateOne(db: BoundConnection, request: NewAllocation): Promise<string> {
  const rounds = request.strategy === "random" && request.address === null ? RANDOM_ROUNDS : 1;
  for (let round = 0; round < rounds; round += 1) {
    const candidates = request.strategy === "random" ? randomCandidates(request.layout.available, RANDOM_CANDIDATES) : [];
    const id = await allocateOneStatement(db, request, candidates);
    if (id !== null) return id;
  }
  if (request.strategy === "random") {
    // Nearly full: let the exact path draw from the few free addresses left.
    const id = await insertAllocation(db, request);
    const pick = await pickRandom(db, request.subnetId, request.layout.available, 1);
    await carveFreeRanges(db, request.subnetId, pick.touched, pick.taken);
    await attachAddresses(db, request, id, pick.taken);
    return id;
  }
  throw new SubnetExhaustedError(String(request.subnetId), 1);
}

async function allocateOneStatement(
  db: BoundConnection,
  request: NewAllocation,
  candidates: readonly string[],
): Promise<string | null> {
  const s = request.subnetId;
  const version = request.layout.cidr.version;
  // A specific address is inserted whether or not it sits in a free range (outside the pools is
  // allowed); the unique key on (subnet, address) refuses one that is already taken.
  const chosen =
    request.address !== null ? sql.fragment`SELECT ${request.address.value.toString()}::numeric AS pick` : sql.fragment`SELECT pick FROM hit`;
  return db.maybeOneFirst(sql.type(createdRow)`
    WITH hit AS MATERIALIZED (${hitQuery(db.t, request, candidates)}),
    front AS (
      UPDATE ${db.t.freeRange} fr SET first_ordinal = h.pick + 1 FROM hit h
      WHERE fr.subnet_id = ${s} AND fr.first_ordinal = h.lo AND h.pick = h.lo AND h.lo < h.hi
    ),
    back AS (
      UPDATE ${db.t.freeRange} fr SET last_ordinal = h.pick - 1 FROM hit h
      WHERE fr.subnet_id = ${s} AND fr.first_ordinal = h.lo AND h.pick > h.lo
    ),
    split AS (
      INSERT INTO ${db.t.freeRange} (subnet_id, first_ordinal, last_ordinal)
      SELECT ${s}, h.pick + 1, h.hi FROM hit h WHERE h.pick > h.lo AND h.pick < h.hi
    ),
    consume AS (
      DELETE FROM ${db.t.freeRange} fr USING hit h WHERE fr.subnet_id = ${s} AND fr.first_ordinal = h.lo AND h.lo = h.hi
    ),
    chosen AS MATERIALIZED (${chosen}),
    alloc AS (
      INSERT INTO ${db.t.allocation} (subnet_id, owner, idempotency_key, strategy, requested_address, description, tags)
      SELECT ${s}, ${request.owner}, ${request.idempotencyKey}, ${request.strategy}, ${request.address?.text ?? null}::inet,
             ${request.description}, ${sql.jsonb(request.tags)}
      FROM chosen
      RETURNING id
    ),
    addr AS (
      INSERT INTO ${db.t.allocatedAddress} (subnet_id, address, ordinal, allocation_id)
      SELECT ${s}, ${db.t.ordinalToInet}(c.pick, ${version}), c.pick, a.id FROM chosen c, alloc a
    )
    SELECT id::text AS id FROM alloc
  `);
}

import { sql } from "slonik";
import { z } from "zod";
import type { IpAddress } from "../../core/address.js";
import { SubnetExhaustedError } from "../../core/errors.js";
import type { SubnetLayout } from "../../core/subnetLayout.js";
import type { StoredStrategy } from "../../core/types.js";
import type { ValueRange } from "../../core/range.js";
import { syncFreeRanges } from "../space/freeSpace.js";
import { pickRandom, pickSequential, randomCandidates, RANDOM_CANDIDATES, RANDOM_ROUNDS } from "./addressPicker.js";
import { type BoundConnection } from "../database/storeDatabase.js";
import { textIdRow } from "../rows/rowShapes.js";

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
  // The free-range index is the database's to write (migration 0012): it takes out what is now allocated.
  await syncFreeRanges(db, request.subnetId, runs);
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
    await attachAddresses(db, request, id, pick.taken);
    return id;
  }
  throw new SubnetExhaustedError(String(request.subnetId), 1);
}

/**
 * The hot path's one call: migration 0012's allocate_one (run as the schema owner) finds the free
 * range, cuts the address out of it and inserts the allocation and its address (the audit trigger
 * logs it); null when no candidate was free (random) or nothing is (next).
 */
async function allocateOneStatement(db: BoundConnection, request: NewAllocation, candidates: readonly string[]): Promise<string | null> {
  return db.oneFirst(sql.type(textIdRow)`
    SELECT ${sql.identifier([db.t.schema, "allocate_one"])}(${request.subnetId}, ${request.owner}, ${request.idempotencyKey}, ${request.strategy},
      ${request.address?.text ?? null}::inet, ${request.description}, ${sql.jsonb(request.tags)},
      ${request.address?.value.toString() ?? null}::numeric, ${sql.array([...candidates], "numeric")})::text AS id
  `);
}

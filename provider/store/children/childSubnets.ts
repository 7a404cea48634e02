import { ADDRESS_BITS, parseSubnetCidr, type Cidr } from "../../core/address.js";
import { IdempotencyMismatchError, InvalidInputError, NotFoundError } from "../../core/errors.js";
import { strictlyInside } from "../../core/prefixBlocks.js";
import { assertChildRules, NO_CHILD_RULES, resolveChildPrefixLength, type ChildRules } from "../../core/prefixPolicy.js";
import type { createSubnetSchema } from "../../core/schemas.js";
import { buildLayout } from "../../core/subnetLayout.js";
import type { Subnet } from "../../core/types.js";
import type { z } from "zod";
import { claimChildBlock, takeChildSpace, type ParentSubnet } from "./childAllocator.js";
import { childByKey } from "./childQueries.js";
import { recordSubnetClaim } from "../claims/claims.js";
import { rebuildFreeRanges } from "../space/freeSpace.js";
import type { SubnetRow } from "../rows/rowShapes.js";
import { layoutOf, rulesOf, subnetFromRow } from "../rows/subnetRecords.js";
import { auditHint, getSubnetRow, insertSubnet } from "../rows/subnetQueries.js";
import { type BoundConnection } from "../database/storeDatabase.js";

export type CreateSubnetFields = z.output<typeof createSubnetSchema>;

/** The rules a create or update request sets, with `fallback` for the ones it leaves out. */
export function requestedRules(fields: Partial<Record<keyof ChildRules, number | null | undefined>>, fallback: ChildRules): ChildRules {
  const pick = (key: keyof ChildRules) => (fields[key] === undefined ? fallback[key] : fields[key]);
  return { minPrefixLength: pick("minPrefixLength"), maxPrefixLength: pick("maxPrefixLength"), defaultPrefixLength: pick("defaultPrefixLength") };
}

/**
 * Create a child of `fields.parentId`: the block asked for (`cidr`), or one of `prefixLength` (else
 * the parent's default) chosen by `strategy`. Runs inside the parent's lock; a child's own id is
 * only known after its insert, and no one else can see it before this transaction commits. With an
 * idempotency key, a repeated request returns the child the first one created (and records its
 * claim, README "Claims").
 * @throws NotFoundError (parent), InvalidInputError, PrefixExhaustedError, OverlapError, ConflictError, IdempotencyMismatchError
 */
export async function carveChildSubnet(db: BoundConnection, fields: CreateSubnetFields): Promise<Subnet> {
  const parentId = Number(fields.parentId);
  const row = await getSubnetRow(db, parentId);
  if (row === null) throw new NotFoundError("subnet", String(parentId));
  const parent: ParentSubnet = { id: parentId, row, layout: layoutOf(row) };
  const wanted = fields.cidr === undefined ? null : parseSubnetCidr(fields.cidr, "cidr");
  refuseMismatches(fields, row, parent, wanted);
  const key = fields.idempotencyKey ?? null;
  if (key !== null) {
    const earlier = await childByKey(db, parentId, key);
    if (earlier !== null) {
      const subnet = replay(earlier, key, fields, wanted);
      if (fields.claim === undefined || earlier.claim === fields.claim) return subnet;
      // The parent's lock, held here, also guards its children's deletion.
      await recordSubnetClaim(db, { id: earlier.id, cidr: earlier.cidr }, fields.claim);
      return subnetFromRow((await getSubnetRow(db, earlier.id))!);
    }
  }
  const length = resolveChildPrefixLength({ id: String(parentId), cidr: parent.layout.cidr, rules: rulesOf(row) }, wanted?.prefixLength ?? fields.prefixLength);
  const rules = requestedRules(fields, NO_CHILD_RULES);
  const version = parent.layout.cidr.version;
  // Everything about the child itself is checked before a block is taken.
  assertChildRules(wanted ?? { version, prefixLength: length, text: `a /${length} child` }, rules);
  const wantedLayout = wanted === null ? null : buildLayout(wanted, fields);
  const strategy = fields.strategy ?? "first-fit";
  const cidr = await claimChildBlock(db, parent, wanted === null ? { length, strategy } : { cidr: wanted });
  const layout = wantedLayout ?? buildLayout(cidr, {});
  const childrenOnly = fields.childrenOnly ?? false;
  // The audit trigger writes subnet.create and the parent's child.carve; the strategy is ours to say.
  await auditHint(db, { strategy: wanted === null ? strategy : "specific" });
  const id = await insertSubnet(db, row.namespace_id, parentId, {
    layout,
    description: fields.description ?? "",
    tags: fields.tags ?? {},
    childrenOnly,
    rules,
    releaseHoldSeconds: fields.releaseHoldSeconds ?? 0,
    idempotencyKey: key,
  });
  // The database cuts the child's block out of the parent's free blocks and free ranges, from the row just written.
  await takeChildSpace(db, parentId, id);
  if (!childrenOnly) await rebuildFreeRanges(db, id);
  return subnetFromRow((await getSubnetRow(db, id))!, layout);
}

function refuseMismatches(fields: CreateSubnetFields, row: SubnetRow, parent: ParentSubnet, wanted: Cidr | null): void {
  if (fields.namespace !== undefined && fields.namespace !== row.namespace) {
    throw InvalidInputError.of("namespace", `a child lives in its parent's namespace "${row.namespace}", got "${fields.namespace}"`);
  }
  if (fields.prefixLength !== undefined && fields.prefixLength > ADDRESS_BITS[parent.layout.cidr.version]) {
    throw InvalidInputError.of("prefixLength", `must be at most ${ADDRESS_BITS[parent.layout.cidr.version]} for IPv${parent.layout.cidr.version}, got ${fields.prefixLength}`);
  }
  const cidr = parent.layout.cidr;
  if (wanted !== null && !strictlyInside(cidr, wanted)) {
    throw InvalidInputError.of("cidr", `${wanted.text} is not strictly inside its parent subnet ${parent.id} (${cidr.text})`);
  }
  if (wanted !== null && fields.prefixLength !== undefined && fields.prefixLength !== wanted.prefixLength) {
    throw InvalidInputError.of("prefixLength", `${fields.prefixLength} does not match cidr ${wanted.text}`);
  }
}

function replay(earlier: SubnetRow, key: string, fields: CreateSubnetFields, wanted: Cidr | null): Subnet {
  const subnet = subnetFromRow(earlier);
  if (wanted !== null && subnet.cidr !== wanted.text) {
    throw new IdempotencyMismatchError(key, `it created child ${subnet.id} (${subnet.cidr}) but this request asks for ${wanted.text}`);
  }
  if (fields.prefixLength !== undefined && subnet.prefixLength !== fields.prefixLength) {
    throw new IdempotencyMismatchError(key, `it created child ${subnet.id} (${subnet.cidr}) but this request asks for a /${fields.prefixLength}`);
  }
  return subnet;
}

import { parseSubnetCidr } from "../../core/address.js";
import { OverlapError } from "../../core/errors.js";
import { NO_CHILD_RULES, assertChildRules, type ChildRules } from "../../core/prefixPolicy.js";
import { createSubnetSchema, parseInput, type CreateSubnetInput } from "../../core/schemas.js";
import { buildLayout, type SubnetLayout } from "../../core/subnetLayout.js";
import { type Subnet } from "../../core/types.js";
import { carveChildSubnet, requestedRules } from "../children/childSubnets.js";
import { recordSubnetClaim, topLevelSubnetByKey } from "../claims/claims.js";
import { refuseSubnetMismatch } from "../claims/replayCheck.js";
import { failureOf, wrapDatabaseError } from "../database/databaseErrors.js";
import { keyedWrite } from "../claims/keyedWrite.js";
import { orNull, type StoreDatabase } from "../database/storeDatabase.js";
import { rebuildFreeRanges } from "../space/freeSpace.js";
import { findOverlapping, getSubnetRow, insertSubnet, upsertNamespace } from "../rows/subnetQueries.js";
import { subnetFromRow } from "../rows/subnetRecords.js";

/* Creating subnets: a top-level subnet under the keyed-write sequence, or a child carved from its parent. */

/**
 * A top-level subnet (`cidr`), or a child carved from `parentId` (see README "Child subnets"):
 * `prefixLength` (else the parent's `defaultPrefixLength`) chosen by `strategy` ("first-fit",
 * default, or "best-fit"), or a specific `cidr` inside the parent. The child takes the parent's
 * namespace; with `idempotencyKey`, repeating the request returns the same child.
 * @throws InvalidInputError, OverlapError; for a child also NotFoundError (parent), PrefixExhaustedError
 *   (SUBNET_EXHAUSTED), ConflictError (a specific cidr over the parent's own addresses), IdempotencyMismatchError
 */
export async function createSubnet(db: StoreDatabase, input: CreateSubnetInput): Promise<Subnet> {
  const fields = parseInput(createSubnetSchema, input);
  if (fields.parentId !== undefined) {
    return db.locked([Number(fields.parentId)], "creating a child subnet", (tx) => carveChildSubnet(tx, fields));
  }
  const layout = buildLayout(parseSubnetCidr(fields.cidr, "cidr"), fields);
  const rules = requestedRules(fields, NO_CHILD_RULES);
  assertChildRules(layout.cidr, rules);
  const namespace = fields.namespace ?? "default";
  const key = fields.idempotencyKey ?? null;
  const replay = () => replaySubnet(db, namespace, key!, layout, fields.childrenOnly ?? false, rules, fields.claim);
  return keyedWrite({
    key,
    replayFirst: true,
    replay,
    found: (subnet) => subnet,
    write: () =>
      db.locked([], "creating a subnet", async (tx) => {
        const namespaceId = await upsertNamespace(tx, namespace);
        const columns = { layout, description: fields.description ?? "", tags: fields.tags ?? {}, childrenOnly: fields.childrenOnly ?? false, rules, releaseHoldSeconds: fields.releaseHoldSeconds ?? 0, idempotencyKey: key };
        const id = await insertSubnet(tx, namespaceId, null, columns);
        await rebuildFreeRanges(tx, id);
        return subnetFromRow((await getSubnetRow(tx, id))!, layout);
      }),
    // The unique key, or the overlap exclusion (the twin's CIDR is the same), met a twin's commit.
    isTwin: (error) => ["exclusion-violation", "unique-violation"].includes(failureOf(error).kind ?? ""),
    refuse: async (error) => {
      if (failureOf(error).kind === "exclusion-violation") {
        throw new OverlapError(layout.cidr.text, namespace, (await orNull(() => db.read("reading subnets", (tx) => findOverlapping(tx, namespace, layout.cidr.text)))) ?? undefined);
      }
      throw wrapDatabaseError(error, "creating a subnet");
    },
  });
}

/**
 * The top-level subnet an earlier request with this key created (recording `claim` as its
 * latest claimant), or null when there is none.
 * @throws IdempotencyMismatchError when that subnet differs in anything but claim, description and tags
 */
export async function replaySubnet(db: StoreDatabase, 
  namespace: string,
  key: string,
  layout: SubnetLayout,
  childrenOnly: boolean,
  rules: ChildRules,
  claim: string | undefined,
): Promise<Subnet | null> {
  const earlier = await db.read("reading a subnet", (tx) => topLevelSubnetByKey(tx, namespace, key));
  if (earlier === null) return null;
  const subnet = subnetFromRow(earlier);
  refuseSubnetMismatch(key, subnet, layout, childrenOnly, rules);
  if (claim === undefined || earlier.claim === claim) return subnet;
  return db.locked([earlier.id], "claiming a subnet", async (tx) => {
    if (!(await recordSubnetClaim(tx, { id: earlier.id, cidr: earlier.cidr }, claim))) return null;
    return subnetFromRow((await getSubnetRow(tx, earlier.id))!);
  });
}

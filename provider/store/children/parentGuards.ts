import type { IpAddress } from "../../core/address.js";
import { AddressInChildSubnetError, ConflictError, InvalidInputError } from "../../core/errors.js";
import { assertChildRules, type ChildRules } from "../../core/prefixPolicy.js";
import type { UpdateSubnetInput } from "../../core/schemas.js";
import type { SubnetLayout } from "../../core/subnetLayout.js";
import { countAllocations } from "../rows/allocationQueries.js";
import { keptFromChildren } from "./childAllocator.js";
import { childHolding, childrenOverlapping } from "./childQueries.js";
import { requestedRules } from "./childSubnets.js";
import type { SubnetRow } from "../rows/rowShapes.js";
import { rulesOf } from "../rows/subnetRecords.js";
import { getSubnetRow } from "../rows/subnetQueries.js";
import { type BoundConnection } from "../database/storeDatabase.js";

/**
 * Keep a parent's own addresses and its children apart. Both run inside the subnet's lock, the
 * same lock every child of it is created and deleted under.
 */

/**
 * An address allocation directly in a subnet: refused in a children-only subnet, and a specific
 * address inside a child is refused (next and random never land there: child blocks are not in the
 * parent's free ranges).
 * @throws InvalidInputError (children-only), AddressInChildSubnetError
 */
export async function assertDirectAllocationAllowed(db: BoundConnection, row: SubnetRow, address: IpAddress | null): Promise<void> {
  if (row.children_only) throw childrenOnlyError(row);
  if (address === null) return;
  const child = await childHolding(db, row.id, address);
  if (child !== null) throw new AddressInChildSubnetError(String(row.id), address.text, String(child.id), child.cidr);
}

function childrenOnlyError(row: SubnetRow): InvalidInputError {
  return InvalidInputError.of("subnetId", `subnet ${row.id} (${row.cidr}) hands out child subnets only (childrenOnly); allocate from one of its children`);
}

/**
 * Why the one-statement next-free path (allocate_next_batch) found nothing: a children-only subnet has no
 * free ranges at all, so it never hands out an address there, and this names the reason.
 * @throws InvalidInputError when the subnet is children-only
 */
export async function refuseIfChildrenOnly(db: BoundConnection, subnetId: number): Promise<void> {
  const row = await getSubnetRow(db, subnetId);
  if (row?.children_only === true) throw childrenOnlyError(row);
}

/**
 * What an update sets for children, checked against them and against the subnet's own addresses.
 * @returns the childrenOnly flag and rules to store
 * @throws InvalidInputError (rules), ConflictError (gateway/reserved over a child; childrenOnly while addresses are allocated)
 */
export async function checkParentUpdate(
  db: BoundConnection,
  row: SubnetRow,
  layout: SubnetLayout,
  changes: UpdateSubnetInput,
): Promise<{ childrenOnly: boolean; rules: ChildRules }> {
  const rules = requestedRules(changes, rulesOf(row));
  assertChildRules(layout.cidr, rules);
  if (changes.gateway !== undefined || changes.reserved !== undefined) {
    const covered = await childrenOverlapping(db, row.id, keptFromChildren(layout));
    if (covered.length > 0) throw new ConflictError(changes.reserved !== undefined ? "reserved" : "gateway", "would cover child subnets", covered);
  }
  const childrenOnly = changes.childrenOnly ?? row.children_only;
  if (childrenOnly && !row.children_only) {
    const { count, examples } = await countAllocations(db, row.id);
    if (count > 0) throw new ConflictError("childrenOnly", `subnet ${row.id} holds ${count} allocation${count === 1 ? "" : "s"} of its own; release them first`, examples);
  }
  return { childrenOnly, rules };
}

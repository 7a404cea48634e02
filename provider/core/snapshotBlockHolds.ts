import { z } from "zod";
import { parseCidr, type Cidr, type IpAddress } from "./address.js";
import { InvalidInputError } from "./errors.js";
import { allocateSchema, subnetIdSchema } from "./schemas.js";
import { SortedRanges } from "./sortedRanges.js";
import { timestampSchema } from "./timestamps.js";
import type { SubnetLayout } from "./subnetLayout.js";
import type { ChildrenIndex } from "./snapshot.js";

/**
 * Held child blocks in a snapshot: a child prefix deleted from a parent with a hold-down stays out
 * of the parent's free space until its hold ends (migration 0014). Without them in the file, an
 * imported parent had the block free at once, and the next carve could hand a released network to
 * another stack before its hold ended.
 */
export const snapshotBlockHoldSchema = z.strictObject({
  cidr: z.string({ error: "must be a CIDR string" }),
  heldUntil: timestampSchema,
  /** The released child's id in the source database (it is gone: this says who released the block). */
  childId: subnetIdSchema,
  childKey: allocateSchema.shape.idempotencyKey.unwrap().nullable(),
});
export type SnapshotBlockHold = z.output<typeof snapshotBlockHoldSchema>;

export interface ValidatedBlockHold {
  readonly cidr: Cidr;
  readonly heldUntil: string;
  readonly childId: string;
  readonly childKey: string | null;
}

/** What the check needs of a subnet of the file (snapshot.ts's ValidatedSubnet with its position). */
interface CheckedSubnet {
  readonly record: { readonly id: string; readonly parentId: string | null; readonly heldChildBlocks?: readonly SnapshotBlockHold[] | undefined };
  readonly layout: SubnetLayout;
  readonly index: number;
}

/** Each parent's held blocks, found by address: what the allocation and address-hold checks ask. */
export type BlockHoldIndex = ReadonlyMap<string, SortedRanges<ValidatedBlockHold>>;

/**
 * The held child blocks of every subnet, checked: a block of the parent's family strictly inside
 * its CIDR, overlapping none of its children in the file and no other held block of it.
 * Allocations and held addresses inside a block are refused where those are checked (`blockHoldOver`).
 */
export function checkBlockHolds(subnets: ReadonlyMap<string, CheckedSubnet>, childrenOf: ChildrenIndex, report: (field: string, reason: string) => void): BlockHoldIndex {
  const result = new Map<string, SortedRanges<ValidatedBlockHold>>();
  const holding = [...subnets.values()].filter((subnet) => (subnet.record.heldChildBlocks ?? []).length > 0);
  if (holding.length === 0) return result;
  for (const parent of holding) {
    const children = childrenOf.get(parent.record.id);
    const blocks: ValidatedBlockHold[] = [];
    parent.record.heldChildBlocks!.forEach((hold, position) => {
      const field = `subnets.${parent.index}.heldChildBlocks.${position}.cidr`;
      try {
        const cidr = parseCidr(hold.cidr, field);
        const outer = parent.layout.cidr;
        if (cidr.version !== outer.version || cidr.prefixLength <= outer.prefixLength || cidr.first < outer.first || cidr.last > outer.last) {
          return report(field, `${cidr.text} is not a block inside the subnet's ${outer.text}`);
        }
        const child = overlapping(children, cidr);
        if (child !== undefined) return report(field, `${cidr.text} overlaps child subnet ${child.record.id} (${child.layout.cidr.text}): a held block is free of children`);
        const other = blocks.find((block) => block.cidr.first <= cidr.last && cidr.first <= block.cidr.last);
        if (other !== undefined) return report(field, `${cidr.text} overlaps the held block ${other.cidr.text}`);
        blocks.push({ cidr, heldUntil: hold.heldUntil, childId: hold.childId, childKey: hold.childKey });
      } catch (error) {
        if (!(error instanceof InvalidInputError)) throw error;
        for (const issue of error.issues) report(issue.field, issue.reason);
      }
    });
    if (blocks.length > 0) result.set(parent.record.id, new SortedRanges(blocks, (block) => block.cidr));
  }
  return result;
}

/** The child (non-overlapping, sorted) whose block overlaps `cidr`: the one holding its first address, or one starting inside it. */
function overlapping<T>(children: SortedRanges<T> | undefined, cidr: Cidr): T | undefined {
  if (children === undefined) return undefined;
  const holding = children.find(cidr.first);
  if (holding !== undefined) return holding;
  // Blocks nest or are apart: a child that overlaps without holding the first address lies inside.
  return children.firstStartingIn(cidr.first, cidr.last);
}

/** The reason `address` of subnet `subnetId` cannot be allocated or held in the file, when a held block covers it. */
export function blockHoldOver(index: BlockHoldIndex, subnetId: string, address: IpAddress): string | null {
  const block = index.get(subnetId)?.find(address.value);
  return block === undefined ? null : `${address.text} is inside ${block.cidr.text}, a child block held after its release until ${block.heldUntil}`;
}

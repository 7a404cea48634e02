import { z } from "zod";
import { allocateSchema, allocationIdSchema, LIMITS, subnetIdSchema, wholeNumber } from "./schemas.js";
import { dateOrTimestampSchema } from "./timestamps.js";

/** Which audit events to read: every filter narrows; pages go backwards in time via `before`. */
export const historyFilterSchema = z.strictObject({
  subnetId: subnetIdSchema.optional(),
  /** An address that the event allocated or released (any subnet unless `subnetId` is given). */
  address: z.string({ error: "must be an address string" }).optional(),
  owner: allocateSchema.shape.owner.optional(),
  allocationId: allocationIdSchema.optional(),
  since: dateOrTimestampSchema.optional(),
  limit: wholeNumber(1, LIMITS.pageSize).optional(),
  /** Opaque cursor: the `next` of the previous page. */
  before: allocationIdSchema.optional(),
});
export type HistoryFilter = z.input<typeof historyFilterSchema>;

/** One change as the audit table recorded it, in the transaction that made it. */
export interface AuditEvent {
  readonly id: string;
  readonly at: string;
  /** subnet.create, subnet.update, subnet.delete, subnet.claim, allocate, grow, shrink, release, claim, adopt, allocation.update, subnet.import, allocation.import, child.carve and child.return (on the parent); written by the database's triggers (migration 0007) */
  readonly action: string;
  readonly subnetId: string | null;
  readonly cidr: string | null;
  readonly allocationId: string | null;
  readonly owner: string | null;
  /** The first addresses of the event, ascending (see `addressCount` for how many it touched). */
  readonly addresses: readonly string[];
  readonly addressCount: number;
  readonly detail: Readonly<Record<string, unknown>>;
}

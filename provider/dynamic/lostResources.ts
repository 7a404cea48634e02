import { DatabaseRestoredError } from "../core/errors.js";
import type { Ipam } from "../store/index.js";
import { OWNER } from "./resourceIdentity.js";
import type { Props } from "./wire.js";

/**
 * A refresh must never report as deleted what the database merely lost (issue 23): the engine would
 * drop the resource from state, and the next `up` would allocate anew and renumber a live host,
 * while the lost addresses go to another stack. A resource whose id the database does not hold is
 * gone only when the database's history says it was released or deleted; otherwise the database
 * lost it (restored from a backup, a failover that lost its tail) and the refresh fails, naming the
 * resource and the recovery. docs/operations.md.
 * @throws DatabaseRestoredError when the history has no release or delete of it
 */
export async function refuseUnlessEnded(db: Ipam, kind: "allocation" | "subnet", id: string, props: Props): Promise<void> {
  const { events } = await db.history(kind === "allocation" ? { allocationId: id, limit: 5 } : { subnetId: id, limit: 5 });
  const ended = events.some((event) =>
    kind === "allocation" ? event.action === "release" && event.allocationId === id : event.action === "subnet.delete" && event.subnetId === id,
  );
  if (ended) return;
  throw new DatabaseRestoredError(
    `${kind} ${id} of ${describe(props)} is in this stack's state but not in the database, and the database's history never ${kind === "allocation" ? "released" : "deleted"} it: the database lost it (restored from a backup, or a failover)`,
  );
}

/**
 * The row under a resource's id belongs to someone else: after a restore, ids issued anew can
 * equal ids in older state. Refused rather than read as this resource.
 * @throws DatabaseRestoredError
 */
export function refuseCrossedIds(kind: "allocation" | "subnet", id: string, problem: string | null, props: Props): void {
  if (problem === null) return;
  throw new DatabaseRestoredError(`${kind} ${id} in the database is not ${describe(props)}'s (${problem}): its id was issued again after the database lost the original`);
}

function describe(props: Props): string {
  const owner = typeof props[OWNER] === "string" ? props[OWNER] : "this resource";
  const held = Array.isArray(props.addresses) ? ` (${(props.addresses as unknown[]).slice(0, 4).join(", ")})` : typeof props.cidr === "string" ? ` (${props.cidr})` : "";
  return `${owner}${held}`;
}

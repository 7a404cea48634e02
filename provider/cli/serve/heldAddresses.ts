import type { SubnetUsage } from "../../core/types.js";

/**
 * Addresses of a subnet in hold-down after release (not free yet, not held by anyone, issue 23): every
 * page, JSON answer and metric takes "held" from here, so the tree, the subnet page, /fullest and
 * /metrics agree with `ipam usage --json` (live holds only: an expired one returns to the free space
 * at the subnet's next pick).
 */
export function heldAddresses(usage: Pick<SubnetUsage, "held">): bigint {
  return BigInt(usage.held);
}

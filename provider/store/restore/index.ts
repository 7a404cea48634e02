/**
 * restore/: after a restore from a backup or a failover (migration 0011). The write fence that makes
 * such a database refuse writes until an operator acts, the operator's ways to re-open them
 * (`ipam db accept-restore`, the failover policy), and `ipam reconcile`, which re-asserts what
 * stacks' state holds.
 */
export { acceptRestore, changeFailoverPolicy, writeFence, type FailoverPolicy, type FenceProblem, type FenceStatus } from "./writeFence.js";
export { reconcileFromState, type ReconcileInput, type ReconcileItem, type ReconcileReport } from "./reconcile.js";
export type { ReconcileSubnetItem, SubnetConflict, SubnetReport } from "./reconcileSubnets.js";

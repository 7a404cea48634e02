/**
 * allocations/: addresses handed out. Allocating (specific, next free, random, bulk), the picker
 * that chooses addresses, the group commit that serves next-free requests in batches, and
 * adopting, releasing, resizing, updating and reading allocations.
 */
export { allocate } from "./allocate.js";
export { adoptAllocation, release, resizeAllocation, updateAllocation } from "./allocationChanges.js";
export { findAllocationByKey, getAllocation, listAllocations, whoHolds } from "./allocationReads.js";
export { NextFreeBatcher } from "./nextFreeBatcher.js";

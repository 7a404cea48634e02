/**
 * space/: what is still free inside a subnet, kept as indexes so costs do not grow with fill.
 * Free address ranges (for allocations) and free aligned blocks (for child prefixes), carved and
 * returned as addresses and children come and go.
 */
export { rebuildFreeRanges, returnToFreeSpace } from "./freeSpace.js";
export { rebuildFreeBlocks } from "./freeBlocks.js";

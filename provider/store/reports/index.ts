/**
 * reports/: read-only views, each read at one moment. Usage (totals, holders, pages, trees), the
 * subnet tree, the map's grid data, the audit history, every subnet's figures in one grouped read
 * (metrics), address search, and what a preview's report needs to know (previewFacts: one READ
 * ONLY transaction of its own).
 */
export { history, subnetMap, subnetTree } from "./subnetViews.js";
export { usage, usagePage, usageReport, usageTreeReport } from "./usageReports.js";
export type { MapChildBlock, SubnetMapData } from "./subnetMapData.js";
export type { TreeTruncation } from "./subnetTree.js";
export type { SubnetUsageReport } from "./usageQueries.js";
export type { SubnetTreeReport } from "./usageTree.js";
export { allocationsInRange, searchAddressSpace, type AddressSearchResult } from "./addressSearch.js";
export { subnetMetrics, SubnetSizeCache, type SubnetMetric } from "./subnetMetrics.js";
export { readPreviewFacts, type FactsRequest, type HeldAllocation, type SubnetFacts } from "./previewFacts.js";

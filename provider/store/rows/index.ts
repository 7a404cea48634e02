/**
 * rows/: the tables' rows as the capabilities share them. Row shapes checked on every read, the
 * subnet and allocation queries several capabilities run, and the records (Subnet, Allocation,
 * layout) derived from a row. Below every capability folder, so none of them imports another to
 * read a row.
 */
export { allocationFromRow, allocationResultFromRow, sortedAddresses } from "./allocationQueries.js";
export { getSubnetRow, requireSubnetRow } from "./subnetQueries.js";
export { layoutOf, subnetFromRow, subnetKey } from "./subnetRecords.js";

/**
 * subnets/: subnets as rows and as operations. Creating (top-level, or handing a child to
 * children/), reading, updating and deleting a subnet; its row queries and the layout and record
 * derived from a row. "Read the subnet, else NOT_FOUND" lives here once (requireSubnetRow).
 */
export { createSubnet } from "./createSubnet.js";
export { deleteSubnet, updateSubnet } from "./subnetChanges.js";
export { getSubnet, listSubnetPage, listSubnets } from "./subnetReads.js";

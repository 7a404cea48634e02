/**
 * subnets/: the operations on a subnet. Creating one (top-level under the keyed-write sequence, or
 * a child through children/), reading, updating and deleting it. Its rows live in rows/.
 */
export { createSubnet } from "./createSubnet.js";
export { deleteSubnet, updateSubnet } from "./subnetChanges.js";
export { getSubnet, listSubnetPage, listSubnets, subnetHolders, type SubnetHolders } from "./subnetReads.js";

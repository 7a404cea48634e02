export { Subnet, type SubnetArgs, type AllocationPoolArgs } from "./Subnet.js";
export { IpAllocation, type IpAllocationArgs } from "./IpAllocation.js";

import { IpAllocation, Subnet } from "pulumi-ipam";

const v6 = new Subnet("v6", { cidr: "2001:db8:40::/64", namespace: "v6" });
const hosts = new IpAllocation("hosts", { subnetId: v6.subnetId, count: 4, strategy: "random" });

export const ipVersion = v6.ipVersion;
/** 2^64 addresses: a decimal string, never a JS number. */
export const size = v6.size;
export const addresses = hosts.addresses;

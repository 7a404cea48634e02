import { IpAllocation, Subnet } from "pulumi-ipam";

const subnet = new Subnet("lan", {
  cidr: "10.20.0.0/24",
  gateway: "10.20.0.1",
  allocationPools: [{ start: "10.20.0.10", end: "10.20.0.200" }],
  reserved: ["10.20.0.53"],
  tags: { env: "dev" },
});

const web = new IpAllocation("web", { subnetId: subnet.subnetId, count: 2, description: "web servers" });
const db = new IpAllocation("db", { subnetId: subnet.subnetId, address: "10.20.0.100" });

export const subnetId = subnet.subnetId;
export const webAddresses = web.addresses;
export const dbAddress = db.address;
export const gateway = web.gateway;

import * as pulumi from "@pulumi/pulumi";
import { IpAllocation, Subnet } from "pulumi-ipam";

// Inputs computed from other resources' outputs: unknown in the first preview, at any depth.
const config = new pulumi.Config();
const source = new Subnet("source", { cidr: "10.9.0.0/24" });
const first = new IpAllocation("first", { subnetId: source.subnetId, count: 2 });

// A pool whose start is another resource's computed output (nested inside allocationPools).
const mirror = new Subnet("mirror", {
  cidr: "10.9.0.0/24",
  namespace: "mirror",
  allocationPools: [{ start: first.addresses.apply((a) => a[0]!), end: "10.9.0.200" }],
  reserved: [first.addresses.apply((a) => a[1]!), "10.9.0.250"],
});

// A known bad count beside an unknown subnetId (switched on by config).
if (config.getBoolean("badCount")) new IpAllocation("bad", { subnetId: mirror.subnetId, count: 0 });
// A known bad reserved entry beside an unknown pool start.
if (config.getBoolean("badReserved")) {
  new Subnet("badReserved", { cidr: "10.10.0.0/24", allocationPools: [{ start: first.address, end: "10.10.0.99" }], reserved: ["10.99.0.1"] });
}

export const mirrorPools = mirror.allocationPools;

import * as pulumi from "@pulumi/pulumi";
import { IpAllocation, Subnet } from "pulumi-ipam";

// 200 IPAM resources: 4 subnets and 196 allocations spread over them, all independent of each other
// but for their subnet (parallel steps through the engine). `base` picks the second octet.
const config = new pulumi.Config();
const base = config.getNumber("base") ?? 70;
const subnets = [0, 1, 2, 3].map((i) => new Subnet(`net${i}`, { cidr: `10.${base + i}.0.0/22` }));
const allocations = Array.from({ length: 196 }, (_, i) => new IpAllocation(`a${i}`, { subnetId: subnets[i % 4]!.subnetId }));

export const addresses = allocations.map((a) => a.address);

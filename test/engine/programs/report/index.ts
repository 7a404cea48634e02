import * as pulumi from "@pulumi/pulumi";
import { IpAllocation, Subnet } from "pulumi-ipam";

// Predicted failures for `ipam preview-report` (test/engine/previewReport.test.ts), switched on by config.
const config = new pulumi.Config();

// A /29: six usable addresses; `fill` takes four of them.
const tiny = new Subnet("tiny", { cidr: "10.60.0.0/29" });
new IpAllocation("fill", { subnetId: tiny.subnetId, count: config.getNumber("fillCount") ?? 4 });
const pinned = config.get("pinned");
if (pinned !== undefined) new IpAllocation("pinned", { subnetId: tiny.subnetId, address: pinned });

// A /24 handing out /26 children: four fit.
const teams = new Subnet("teams", { cidr: "10.61.0.0/24", childrenOnly: true });
const children = config.getNumber("children") ?? 1;
for (let i = 0; i < children; i += 1) new Subnet(`team${i}`, { parentId: teams.subnetId, prefixLength: 26 });

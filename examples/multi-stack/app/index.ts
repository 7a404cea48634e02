import * as pulumi from "@pulumi/pulumi";
import { IpAllocation } from "pulumi-ipam";

const config = new pulumi.Config();
const network = new pulumi.StackReference(config.get("networkStack") ?? "organization/ipam-network/prod");

// Every app stack (one per CI job) runs this at once; the subnet's lock keeps addresses distinct.
const vip = new IpAllocation("vip", {
  subnetId: network.requireOutput("appsSubnetId").apply(String),
  strategy: "random",
  tags: { stack: pulumi.getStack() },
});

export const address = vip.address;
export const prefixLength = vip.prefixLength;

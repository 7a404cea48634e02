import * as pulumi from "@pulumi/pulumi";
import { IpAllocation, Subnet } from "pulumi-ipam";

// One allocation `web` in a subnet made outside the stack (config subnetId), with the resource option
// named by config `option`: protect, retainOnDelete, deletedWith (a Subnet `lan` of this stack), import.
const config = new pulumi.Config();
const option = config.get("option") ?? "none";

let opts: pulumi.CustomResourceOptions = {};
if (option === "protect") opts = { protect: true };
if (option === "retainOnDelete") opts = { retainOnDelete: true };
if (option === "import") opts = { import: config.require("importId") };
let subnetId: pulumi.Input<string> = config.require("subnetId");
if (option === "deletedWith") {
  const lan = new Subnet("lan", { cidr: "10.31.0.0/24" });
  subnetId = lan.subnetId;
  opts = { deletedWith: lan };
}
const web = new IpAllocation("web", { subnetId, ...(option === "import" ? { address: config.require("importAddress") } : {}) }, opts);

export const webAddress = web.address;

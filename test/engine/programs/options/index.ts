import * as pulumi from "@pulumi/pulumi";
import { IpAllocation, Subnet } from "pulumi-ipam";

// Resource options and reads through the engine.
const config = new pulumi.Config();

const kept = new Subnet("kept", { cidr: "10.40.0.0/24", tags: { env: "dev" } }, { ignoreChanges: ["tags"] });
const plain = new Subnet("plain", { cidr: "10.41.0.0/24", tags: { env: "dev" } });
const web = new IpAllocation("web", { subnetId: kept.subnetId, tags: { role: config.get("webRole") ?? "web" } }, { replaceOnChanges: ["tags"] });

export const keptId = kept.subnetId;
export const plainId = plain.subnetId;
export const webAddress = web.address;
export const webStrategy = web.strategy;

// Read-only references to things made elsewhere (the CLI), by id.
const subnetId = config.get("getSubnetId");
// With ownExisting, the same name is a subnet this stack owns (get -> new, new -> get).
const ownExisting = config.getBoolean("ownExisting") ?? false;
const existing = ownExisting ? new Subnet("existing", { cidr: "10.42.0.0/24" }) : subnetId === undefined ? undefined : Subnet.get("existing", subnetId);
const allocationId = config.get("getAllocationId");
const held = allocationId === undefined ? undefined : IpAllocation.get("held", allocationId);

export const existingCidr = existing?.cidr;
export const existingTags = existing?.tags;
export const heldAddresses = held?.addresses;
export const heldOwner = held?.owner;

// An address someone else holds (switched on by config): the create fails with ADDRESS_IN_USE.
const takenAddress = config.get("takenAddress");
if (takenAddress !== undefined) new IpAllocation("taken", { subnetId: kept.subnetId, address: takenAddress });

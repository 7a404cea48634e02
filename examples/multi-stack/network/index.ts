import { Subnet } from "pulumi-ipam";

const apps = new Subnet("apps", { cidr: "10.30.0.0/22", namespace: "prod", gateway: "10.30.0.1" });

/** App stacks read this through a StackReference. */
export const appsSubnetId = apps.subnetId;

import * as pulumi from "@pulumi/pulumi";
import { IpAllocation, Subnet } from "pulumi-ipam";

// Secret inputs on both types, at the top level and nested in tags; `round` changes every secret (an update).
const config = new pulumi.Config();
const round = config.get("round") ?? "one";

const lan = new Subnet("lan", {
  cidr: config.get("cidr") ?? "10.60.0.0/24",
  description: pulumi.secret(`lan-description-${round}-s3cr3t`),
  tags: { env: "dev", token: pulumi.secret(`lan-token-${round}-s3cr3t`) },
});
const web = new IpAllocation("web", {
  subnetId: lan.subnetId,
  description: pulumi.secret(`web-description-${round}-s3cr3t`),
  tags: { role: "web", token: pulumi.secret(`web-token-${round}-s3cr3t`) },
});

export const webAddress = web.address;
export const lanDescription = lan.description;
export const webTags = web.tags;

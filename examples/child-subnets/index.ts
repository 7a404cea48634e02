import { IpAllocation, Subnet } from "pulumi-ipam";

// The platform team's supernet: it hands out team subnets only (never addresses directly),
// /20 to /28, a /24 when a team does not say.
const platform = new Subnet("platform", {
  cidr: "10.64.0.0/16",
  namespace: "platform",
  childrenOnly: true,
  minPrefixLength: 20,
  maxPrefixLength: 28,
  defaultPrefixLength: 24,
  description: "carved into team subnets",
});

// Team subnets: the next free aligned block of the size asked for. Their CIDRs are outputs,
// unknown in the first preview, stable afterwards.
const payments = new Subnet("payments", { parentId: platform.subnetId, prefixLength: 22, tags: { team: "payments" } });
const search = new Subnet("search", { parentId: platform.subnetId });
const edge = new Subnet("edge", { parentId: platform.subnetId, prefixLength: 28, strategy: "best-fit" });

const api = new IpAllocation("payments-api", { subnetId: payments.subnetId, count: 3 });

export const paymentsCidr = payments.cidr;
export const searchCidr = search.cidr;
export const edgeCidr = edge.cidr;
export const apiAddresses = api.addresses;

import * as pulumi from "@pulumi/pulumi";
import { IpAllocation, Subnet } from "pulumi-ipam";

// A subnet `lan` with two allocations, renumbered by config (test/engine/targets.test.ts):
// - cidr: lan's CIDR; cidrFromSeed: it passes through an output of `seed`, unknown in a preview that
//   updates seed (seedTag changes);
// - deleteBeforeReplace: the resource option on lan;
// - next (+ nextNamespace): a second Subnet the allocations move to; dropLan: lan leaves the program.
const config = new pulumi.Config();
const cidr = config.get("cidr") ?? "10.30.0.0/24";
const seed = config.getBoolean("cidrFromSeed") ? new Subnet("seed", { cidr: "10.39.0.0/24", namespace: "seed", tags: { t: config.get("seedTag") ?? "a" } }) : undefined;
const lanCidr = seed === undefined ? cidr : seed.size.apply(() => cidr);

const lan = config.getBoolean("dropLan")
  ? undefined
  : new Subnet("lan", { cidr: lanCidr }, config.getBoolean("deleteBeforeReplace") ? { deleteBeforeReplace: true } : {});
const nextCidr = config.get("next");
const next = nextCidr === undefined ? undefined : new Subnet("next", { cidr: nextCidr, namespace: config.get("nextNamespace") });
const home = (next ?? lan)!;

const web = new IpAllocation("web", { subnetId: home.subnetId, count: 2 });
const db = new IpAllocation("db", { subnetId: home.subnetId, address: config.get("dbAddress") ?? "10.30.0.100" });

export const webAddresses = web.addresses;
export const dbAddress = db.address;

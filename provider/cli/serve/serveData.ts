import type { Allocation, Subnet } from "../../core/types.js";
import type { Ipam } from "../../store/Ipam.js";
import type { SubnetMetric } from "../../store/subnetMetrics.js";

/** What the web view reads: the public Ipam reads, nothing that writes. */
export type IpamReads = Pick<
  Ipam,
  "usagePage" | "usageReport" | "listChildren" | "listAllocations" | "getAllocation" | "getSubnet" | "subnetMap" | "history" | "installationId"
>;

/** Reads only the web view needs (metrics, search, a map cell's holders). */
export interface ViewReads {
  /** Every subnet's figures (of one namespace, or all) in one grouped read. */
  subnetMetrics(filter?: { namespace?: string }): Promise<SubnetMetric[]>;
  /** Subnets containing an address or CIDR (most specific first) and the allocations holding an address. */
  searchAddressSpace(text: string): Promise<{ query: string; isAddress: boolean; subnets: Subnet[]; allocations: Allocation[] }>;
  /** Allocations holding an address from `first` to `last` in a subnet. */
  allocationsInRange(subnetId: string, first: string, last: string): Promise<Allocation[]>;
}

export type ServeData = IpamReads & ViewReads;

/** The reads as one object, each bound to its owner (the Ipam facade or the view's own reads). */
export function serveData(ipam: IpamReads, views: ViewReads): ServeData {
  return {
    usagePage: (...args) => ipam.usagePage(...args),
    usageReport: (...args) => ipam.usageReport(...args),
    listChildren: (...args) => ipam.listChildren(...args),
    listAllocations: (...args) => ipam.listAllocations(...args),
    getAllocation: (...args) => ipam.getAllocation(...args),
    getSubnet: (...args) => ipam.getSubnet(...args),
    subnetMap: (...args) => ipam.subnetMap(...args),
    history: (...args) => ipam.history(...args),
    installationId: () => ipam.installationId(),
    subnetMetrics: (...args) => views.subnetMetrics(...args),
    searchAddressSpace: (text) => views.searchAddressSpace(text),
    allocationsInRange: (...args) => views.allocationsInRange(...args),
  };
}

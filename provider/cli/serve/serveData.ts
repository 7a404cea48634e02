import type { Ipam } from "../../store/Ipam.js";

/**
 * What the web view reads: public Ipam reads only, nothing that writes (an Ipam is one). The
 * view's own three (`subnetMetrics`, `searchAddressSpace`, `allocationsInRange`) are Ipam reads too.
 */
export type ServeData = Pick<
  Ipam,
  | "usagePage"
  | "usageReport"
  | "listChildren"
  | "listAllocations"
  | "getAllocation"
  | "getSubnet"
  | "subnetMap"
  | "history"
  | "subnetMetrics"
  | "searchAddressSpace"
  | "allocationsInRange"
>;

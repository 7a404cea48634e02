import { groupBy } from "../core/groupBy.js";
import type { Subnet } from "../core/types.js";

export interface TreeEntry {
  readonly subnet: Subnet;
  /** 0 for a top-level subnet, 1 for its children, and so on. */
  readonly depth: number;
}

/**
 * Subnets in display order: each parent followed by its children, depth first; subnets whose
 * parent is not in the list (filtered out) show at the top level.
 */
export function subnetTree(subnets: readonly Subnet[]): TreeEntry[] {
  const ids = new Set(subnets.map((subnet) => subnet.id));
  const children = groupBy(subnets, (subnet) => (subnet.parentId !== null && ids.has(subnet.parentId) ? subnet.parentId : null));
  const ordered: TreeEntry[] = [];
  const visit = (parent: string | null, depth: number) => {
    for (const subnet of children.get(parent) ?? []) {
      ordered.push({ subnet, depth });
      visit(subnet.id, depth + 1);
    }
  };
  visit(null, 0);
  return ordered;
}

/** Items (usage reports, ...) of these subnets in display order, with their depth. */
export function inTreeOrder<T extends { readonly subnet: Subnet }>(items: readonly T[]): (T & { depth: number })[] {
  const bySubnet = new Map(items.map((item) => [item.subnet.id, item]));
  return subnetTree(items.map((item) => item.subnet)).map((entry) => ({ ...bySubnet.get(entry.subnet.id)!, depth: entry.depth }));
}

/** The CIDR indented under its parent. */
export function treeLabel(entry: TreeEntry): string {
  return entry.depth === 0 ? entry.subnet.cidr : `${"  ".repeat(entry.depth - 1)}└ ${entry.subnet.cidr}`;
}

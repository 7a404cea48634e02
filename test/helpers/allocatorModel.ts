/**
 * An in-memory model of one small subnet (16 addresses, written as offsets 0-15 from the network
 * address), kept deliberately naive: plain sets of offsets, no ranges, no IP library. The
 * allocator must agree with it after every operation.
 */
export type Offset = number;
export type ModelStrategy = "sequential" | "random" | "specific";

export interface ModelAllocation {
  readonly offsets: readonly Offset[];
  readonly strategy: ModelStrategy;
}

export const SUBNET_SIZE = 16;
export const GATEWAY: Offset = 1;

export class AllocatorModel {
  /** Explicit pools as inclusive offset ranges, or null for the default pool. */
  pools: [Offset, Offset][] | null = null;
  reserved = new Set<Offset>([9]);
  readonly allocations = new Map<string, ModelAllocation>();

  constructor(readonly version: 4 | 6) {}

  /** IPv4 loses network and broadcast; IPv6 only the subnet-router anycast address (offset 0). */
  isUsable(offset: Offset): boolean {
    return offset >= 1 && (this.version === 6 || offset <= SUBNET_SIZE - 2);
  }

  poolOffsets(): Set<Offset> {
    const result = new Set<Offset>();
    if (this.pools === null) {
      for (let o = 0; o < SUBNET_SIZE; o += 1) if (this.isUsable(o) && o !== GATEWAY) result.add(o);
    } else {
      for (const [first, last] of this.pools) for (let o = first; o <= last; o += 1) result.add(o);
    }
    return result;
  }

  allocated(): Set<Offset> {
    return new Set([...this.allocations.values()].flatMap((allocation) => allocation.offsets));
  }

  /** Free offsets, ascending: in the pools, not reserved, not allocated. */
  free(): Offset[] {
    const allocated = this.allocated();
    return [...this.poolOffsets()].filter((o) => !this.reserved.has(o) && !allocated.has(o)).sort((a, b) => a - b);
  }

  /** The error code a specific request for `offset` must get, or null when it must succeed. */
  specificRefusal(offset: Offset): "INVALID_INPUT" | "ADDRESS_IN_USE" | null {
    if (!this.isUsable(offset) || offset === GATEWAY || this.reserved.has(offset)) return "INVALID_INPUT";
    return this.allocated().has(offset) ? "ADDRESS_IN_USE" : null;
  }

  /** Ids in a stable order, so a command can name "the n-th allocation". */
  ids(): string[] {
    return [...this.allocations.keys()].sort((a, b) => Number(a) - Number(b));
  }

  /** The free offsets as maximal runs, the form the free-range index must have. */
  freeRuns(): [Offset, Offset][] {
    const runs: [Offset, Offset][] = [];
    for (const o of this.free()) {
      const last = runs.at(-1);
      if (last !== undefined && last[1] === o - 1) last[1] = o;
      else runs.push([o, o]);
    }
    return runs;
  }
}

/**
 * Items by key, each group in the order given. Each item is pushed onto its group (copying the
 * group per item, as several call sites did, made grouping 1M allocations or 100k subnets quadratic).
 */
export function groupBy<T, K>(items: Iterable<T>, key: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group === undefined) groups.set(k, [item]);
    else group.push(item);
  }
  return groups;
}

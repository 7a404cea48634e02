/** Inclusive integer range of address values. */
export interface ValueRange {
  readonly first: bigint;
  readonly last: bigint;
}

export function rangeSize(range: ValueRange): bigint {
  return range.last - range.first + 1n;
}

export function rangesOverlap(a: ValueRange, b: ValueRange): boolean {
  return a.first <= b.last && b.first <= a.last;
}

export function rangeContains(range: ValueRange, value: bigint): boolean {
  return value >= range.first && value <= range.last;
}

/** Sorted, non-overlapping, adjacent ranges merged. */
export function normalizeRanges(ranges: readonly ValueRange[]): ValueRange[] {
  const sorted = [...ranges].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const merged: ValueRange[] = [];
  for (const range of sorted) {
    const previous = merged.at(-1);
    if (previous !== undefined && range.first <= previous.last + 1n) {
      if (range.last > previous.last) merged[merged.length - 1] = { first: previous.first, last: range.last };
    } else {
      merged.push(range);
    }
  }
  return merged;
}

/** `from` minus every range in `holes`; both may be unsorted. Result is normalized. */
export function subtractRanges(from: readonly ValueRange[], holes: readonly ValueRange[]): ValueRange[] {
  const sortedHoles = normalizeRanges(holes);
  const result: ValueRange[] = [];
  // Both lists ascending: skip the holes wholly before each range instead of rescanning them all,
  // so the cost is linear in r + h after sorting, not r × h (a bulk pick subtracts 65,536 from 65,536).
  let first = 0;
  for (const range of normalizeRanges(from)) {
    while (first < sortedHoles.length && sortedHoles[first]!.last < range.first) first += 1;
    let cursor = range.first;
    for (let index = first; index < sortedHoles.length && sortedHoles[index]!.first <= range.last; index += 1) {
      const hole = sortedHoles[index]!;
      if (hole.first > cursor) result.push({ first: cursor, last: hole.first - 1n });
      if (hole.last + 1n > cursor) cursor = hole.last + 1n;
      if (cursor > range.last) break;
    }
    if (cursor <= range.last) result.push({ first: cursor, last: range.last });
  }
  return result;
}

export function totalSize(ranges: readonly ValueRange[]): bigint {
  return ranges.reduce((sum, range) => sum + rangeSize(range), 0n);
}

/** Sorted distinct values grouped into maximal runs of consecutive values. */
export function runsOf(values: readonly bigint[]): ValueRange[] {
  const sorted = [...new Set(values)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return normalizeRanges(sorted.map((value) => ({ first: value, last: value })));
}

export function sameRanges(a: readonly ValueRange[], b: readonly ValueRange[]): boolean {
  return a.length === b.length && a.every((range, index) => range.first === b[index]!.first && range.last === b[index]!.last);
}

/** The parts of `ranges` that lie inside `within`; both may be unsorted. Result is normalized. */
export function intersectRanges(ranges: readonly ValueRange[], within: readonly ValueRange[]): ValueRange[] {
  const bounds = normalizeRanges(within);
  const result: ValueRange[] = [];
  for (const range of normalizeRanges(ranges)) {
    for (const bound of bounds) {
      const first = range.first > bound.first ? range.first : bound.first;
      const last = range.last < bound.last ? range.last : bound.last;
      if (first <= last) result.push({ first, last });
    }
  }
  return normalizeRanges(result);
}

import { partitionOfId } from "../../api/partition.js";

// Listing over partitions (Tasks.List, Schedules.List): each partition's
// records in one order, merged. The order is the id without its partition
// mark, then the full id: task ids sort by creation time, so a merged list
// is in creation order across partitions, as with one. A page token is the
// last id of a page; the next page starts strictly after it.

/** The id without its partition mark (`p3_00mw…` → `00mw…`). */
export function unmarked(id: string): string {
  return partitionOfId(id) === undefined ? id : id.slice(id.indexOf("_") + 1);
}

/** Compares two ids in listing order. */
export function compareIds(a: string, b: string): number {
  const ua = unmarked(a);
  const ub = unmarked(b);
  if (ua !== ub) return ua < ub ? -1 : 1;
  return a === b ? 0 : a < b ? -1 : 1;
}

/**
 * Merges streams each already in listing order into one, lazily: a page
 * of a list reads only as far as it needs in each stream.
 */
export function* mergeInOrder<T>(streams: ReadonlyArray<Iterable<T>>, idOf: (item: T) => string): Generator<T> {
  const heads = streams.map((s) => {
    const it = s[Symbol.iterator]();
    return { it, next: it.next() };
  });
  for (;;) {
    let best: (typeof heads)[number] | undefined;
    for (const h of heads) {
      if (h.next.done) continue;
      if (!best || compareIds(idOf(h.next.value), idOf(best.next.value as T)) < 0) best = h;
    }
    if (!best) return;
    yield best.next.value as T;
    best.next = best.it.next();
  }
}

/**
 * One partition's records in listing order, from a store listing them in
 * plain id order: its marked ids (`p<partition>_…`, in order once the mark
 * is dropped) merged with its unmarked ones (ids callers chose).
 */
export function inListingOrder<T>(all: () => Iterable<T>, idOf: (item: T) => string): Iterable<T> {
  const marked = function* () {
    for (const item of all()) if (partitionOfId(idOf(item)) !== undefined) yield item;
  };
  const plain = function* () {
    for (const item of all()) if (partitionOfId(idOf(item)) === undefined) yield item;
  };
  return mergeInOrder([marked(), plain()], idOf);
}

import { idInPartition, partitionOfId } from "../../api/partition.js";
import type { TaskRange } from "../../store/store.js";

// Listing over partitions (Tasks.List, Schedules.List): each partition's
// records in one order, merged. The order is the id without its partition
// mark, then the full id: task ids sort by creation time, so a merged list
// is in creation order across partitions, as with one. A page token is the
// last id of a page; the next page starts strictly after it. Newest first
// is the same order reversed, its tokens alike.

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

/** Listing order, or its reverse: how far `a` comes after `b` (> 0: later). */
export function listingOrder(newestFirst = false): (a: string, b: string) => number {
  return newestFirst ? (a, b) => compareIds(b, a) : compareIds;
}

/**
 * Merges streams each already in listing order (reversed with
 * `newestFirst`) into one, lazily: a page of a list reads only as far as
 * it needs in each stream.
 */
export function* mergeInOrder<T>(streams: ReadonlyArray<Iterable<T>>, idOf: (item: T) => string, newestFirst = false): Generator<T> {
  const order = listingOrder(newestFirst);
  const heads = streams.map((s) => {
    const it = s[Symbol.iterator]();
    return { it, next: it.next() };
  });
  for (;;) {
    let best: (typeof heads)[number] | undefined;
    for (const h of heads) {
      if (h.next.done) continue;
      if (!best || order(idOf(h.next.value), idOf(best.next.value as T)) < 0) best = h;
    }
    if (!best) return;
    yield best.next.value as T;
    best.next = best.it.next();
  }
}

/** The smallest string above `id`: a bound that keeps `id` in a half-open range. */
const justAbove = (id: string) => `${id}\u0000`;

/**
 * One partition's records in listing order (reversed with `newestFirst`),
 * from the ones just before `after` on (a few of them at the edge may not
 * be after it: the caller drops those). `scan` walks the partition's table
 * in plain id order over a range. Its marked ids (`p<partition>_…`, one
 * block in plain order, and in listing order within it) are merged with
 * its unmarked ones (ids callers chose) on either side of the block, which
 * their walk skips: neither walk passes over the other's records.
 */
export function inListingOrder<T>(
  partition: number,
  scan: (range: TaskRange) => Iterable<T>,
  idOf: (item: T) => string,
  after: string | undefined,
  newestFirst = false,
): Iterable<T> {
  const blockStart = idInPartition("", partition, Number.MAX_SAFE_INTEGER); // "p3_"
  const blockEnd = `${blockStart.slice(0, -1)}\``; // "p3`": just past every "p3_…"
  const from = after === undefined ? undefined : unmarked(after);
  // Forward [from, ∞), newest first (−∞, from], cut to [lower, upper).
  const cut = (lower: string | undefined, upper: string | undefined): TaskRange => {
    if (from === undefined) return { atLeast: lower, below: upper, reverse: newestFirst };
    if (!newestFirst) return { atLeast: lower === undefined || from > lower ? from : lower, below: upper };
    return { atLeast: lower, below: upper === undefined || justAbove(from) < upper ? justAbove(from) : upper, reverse: true };
  };
  const walk = function* (parts: TaskRange[], marked: boolean) {
    for (const range of newestFirst ? [...parts].reverse() : parts) {
      for (const item of scan(range)) if ((partitionOfId(idOf(item)) !== undefined) === marked) yield item;
    }
  };
  const markedFrom = from === undefined ? undefined : blockStart + from;
  const markedRange: TaskRange = newestFirst
    ? { atLeast: blockStart, below: markedFrom === undefined ? blockEnd : justAbove(markedFrom), reverse: true }
    : { atLeast: markedFrom ?? blockStart, below: blockEnd };
  const plainRanges = [cut(undefined, blockStart), cut(blockEnd, undefined)];
  return mergeInOrder([walk([markedRange], true), walk(plainRanges, false)], idOf, newestFirst);
}

/** One source's page (a node's): its items in listing order, and its token ("" at its end). */
export interface SourcePage<T> {
  readonly items: readonly T[];
  readonly next: string;
}

/**
 * Pages of several sources, each read after the same token, as one page of
 * at most `limit` and its token. Nothing past the earliest place a source
 * stopped is kept (that source has not looked beyond it: a full page, or
 * its scan bound), so the next page, read from there, misses nothing.
 */
export function mergePages<T>(pages: ReadonlyArray<SourcePage<T>>, idOf: (item: T) => string, limit: number, newestFirst = false): SourcePage<T> {
  return mergeSortedPages(pages, idOf, limit, listingOrder(newestFirst));
}

/** `mergePages` for sources in any `order` (actor ids: plain string order). */
export function mergeSortedPages<T>(pages: ReadonlyArray<SourcePage<T>>, idOf: (item: T) => string, limit: number, order: (a: string, b: string) => number): SourcePage<T> {
  let stop: string | undefined;
  for (const { next } of pages) if (next !== "" && (stop === undefined || order(next, stop) < 0)) stop = next;
  const items = pages
    .flatMap((p) => p.items)
    .filter((item) => stop === undefined || order(idOf(item), stop) <= 0)
    .sort((a, b) => order(idOf(a), idOf(b)));
  if (items.length > limit) return { items: items.slice(0, limit), next: idOf(items[limit - 1]!) };
  return { items, next: stop ?? "" };
}

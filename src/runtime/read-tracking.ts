import { AsyncLocalStorage } from "node:async_hooks";

/**
 * The actor versions a piece of code read, so `until` (and reactive
 * readers) re-run only when one of them changes. Carried in async context,
 * so reads made through nested reader calls are recorded too.
 */
export class ReadSet extends Map<string, number> {}

const current = new AsyncLocalStorage<ReadSet>();

export function trackReads<T>(reads: ReadSet, fn: () => Promise<T>): Promise<T> {
  return current.run(reads, fn);
}

export function recordRead(key: string, version: number): void {
  const reads = current.getStore();
  if (!reads) return;
  // Keep the oldest version seen: a result may rest on it.
  const seen = reads.get(key);
  if (seen === undefined || version < seen) reads.set(key, version);
}

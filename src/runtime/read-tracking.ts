import { AsyncLocalStorage } from "node:async_hooks";

/**
 * The actor versions a piece of code read, so `until` (and reactive
 * readers) re-run only when one of them changes. Carried in async context,
 * so reads made through nested reader calls are recorded too.
 */
export class ReadSet extends Map<string, number> {}

// Process-wide on purpose: an AsyncLocalStorage's promise hook is the
// process's, so one storage and one count of the runs using it (to disable
// the hook when none is) serve every runtime in the process.
const current = new AsyncLocalStorage<ReadSet>();

/** Tracked runs not yet settled, in the whole process. */
let tracking = 0;

/**
 * Runs `fn`, recording in `reads` every actor version it (and the readers
 * it calls) read. On Node 20 an AsyncLocalStorage in use puts a hook on
 * every promise and async resource in the process (a few µs on each socket
 * write), so it is disabled whenever no tracked run is under way.
 */
export async function trackReads<T>(reads: ReadSet, fn: () => Promise<T>): Promise<T> {
  tracking++;
  try {
    return await current.run(reads, fn);
  } finally {
    if (--tracking === 0) current.disable();
  }
}

export function recordRead(key: string, version: number): void {
  const reads = current.getStore();
  if (!reads) return;
  // Keep the oldest version seen: a result may rest on it.
  const seen = reads.get(key);
  if (seen === undefined || version < seen) reads.set(key, version);
}

/** Whether the code running now records what it reads (an `until`, a reactive reader): a call elsewhere then answers its reads too. */
export function tracksReads(): boolean {
  return tracking > 0 && current.getStore() !== undefined;
}

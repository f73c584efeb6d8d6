/** Subscribes `notify` to changes; returns the unsubscribe. */
export type Subscribe = (notify: () => void) => () => void;

/**
 * The pull loop of the watch RPCs (Tasks.Watch, Tasks.WatchList): yields at
 * once, then each time a change has made the watched thing stale, at most
 * once per `minIntervalMs`. A change only marks it stale, so a slow reader
 * skips to the newest and nothing is queued for it. Subscribed before the
 * first yield, so no change falls between the first read and the watch.
 * Ends when `signal` aborts, or when the consumer stops pulling.
 */
export async function* whenStale(subscribe: Subscribe, signal: AbortSignal | undefined, minIntervalMs = 0): AsyncGenerator<void, void, undefined> {
  let stale = true;
  let wake: (() => void) | undefined;
  const unsubscribe = subscribe(() => {
    stale = true;
    wake?.();
  });
  const onAbort = () => wake?.();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    while (!signal?.aborted) {
      if (!stale) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        continue;
      }
      stale = false;
      yield;
      if (minIntervalMs === 0 || signal?.aborted) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, minIntervalMs);
        wake = () => {
          // Only an abort cuts the pause short; changes wait for it.
          if (signal?.aborted) {
            clearTimeout(timer);
            resolve();
          }
        };
      });
      wake = undefined;
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    unsubscribe();
  }
}

/**
 * Change notification, the one mechanism under `until` and reactive
 * readers: every durable commit of an actor bumps its version and wakes
 * whoever waits for a version newer than the one they read.
 */
export class Watchers {
  readonly #waiting = new Map<string, Set<() => void>>();

  static key(stateType: string, actorId: string): string {
    return `${stateType}\u0000${actorId}`;
  }

  /** Called once per durable commit, in version order per actor. */
  committed(key: string, version: number): void {
    const waiting = this.#waiting.get(key);
    if (!waiting) return;
    this.#waiting.delete(key);
    for (const wake of waiting) wake();
  }

  /**
   * Resolves once any of `reads` (actor key → version seen) has a newer
   * durable version, or at once if one already has. `current` tells the
   * durable version now, for commits that landed between read and wait.
   */
  waitForAny(
    reads: ReadonlyMap<string, number>,
    current: (key: string) => number,
    signal?: AbortSignal,
  ): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    for (const [key, seen] of reads) if (current(key) > seen) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const forget = () => {
        for (const key of reads.keys()) {
          const set = this.#waiting.get(key);
          set?.delete(wake);
          if (set?.size === 0) this.#waiting.delete(key);
        }
      };
      const wake = () => {
        forget();
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        forget();
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      for (const key of reads.keys()) {
        let set = this.#waiting.get(key);
        if (!set) this.#waiting.set(key, (set = new Set()));
        set.add(wake);
      }
    });
  }
}

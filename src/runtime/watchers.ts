/**
 * Change notification, the one mechanism under `until` and reactive
 * readers: every durable commit of an actor bumps its version and wakes
 * whoever waits for a version newer than the one they read.
 */
/** One wait for change: woken once, when any of `reads` has a newer version. */
export interface ChangeWaiter {
  /** Actor key → the version seen. */
  readonly reads: ReadonlyMap<string, number>;
  wake(): void;
}

export class Watchers {
  readonly #waiting = new Map<string, Set<ChangeWaiter>>();

  static key(stateType: string, actorId: string): string {
    return `${stateType}\u0000${actorId}`;
  }

  /** Called once per durable commit, in version order per actor. */
  committed(key: string, _version: number): void {
    const waiting = this.#waiting.get(key);
    if (!waiting) return;
    this.#waiting.delete(key);
    for (const waiter of waiting) {
      this.unwatch(waiter);
      waiter.wake();
    }
  }

  /**
   * Wakes `waiter` once, when any of its reads has a newer durable version,
   * or at once if one already has. `current` tells the durable version now,
   * for commits that landed between read and wait. A small object per wait
   * and no closure: 100,000 suspended workflows wait here.
   */
  watch(waiter: ChangeWaiter, current: (key: string) => number): void {
    for (const [key, seen] of waiter.reads) {
      if (current(key) > seen) return waiter.wake();
    }
    for (const key of waiter.reads.keys()) {
      let set = this.#waiting.get(key);
      if (!set) this.#waiting.set(key, (set = new Set()));
      set.add(waiter);
    }
  }

  /** Forgets a wait (no-op if it was woken or never registered). */
  unwatch(waiter: ChangeWaiter): void {
    for (const key of waiter.reads.keys()) {
      const set = this.#waiting.get(key);
      if (!set?.delete(waiter)) continue;
      if (set.size === 0) this.#waiting.delete(key);
    }
  }

  /** `watch` as a promise; rejects with the signal's reason if it fires first. */
  waitForAny(
    reads: ReadonlyMap<string, number>,
    current: (key: string) => number,
    signal?: AbortSignal,
  ): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      let woken = false;
      const onAbort = () => {
        this.unwatch(waiter);
        reject(signal?.reason);
      };
      const waiter: ChangeWaiter = {
        reads,
        wake: () => {
          woken = true;
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      this.watch(waiter, current);
      if (!woken) signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}

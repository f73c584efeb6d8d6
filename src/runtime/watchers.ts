/**
 * Change notification, the one mechanism under `until` and reactive
 * readers: every durable commit of an actor bumps its version and wakes
 * whoever waits for a version newer than the one they read.
 */
export class Watchers {
  readonly #versions = new Map<string, number>();
  readonly #waiting = new Map<string, Set<() => void>>();

  static key(stateType: string, actorId: string): string {
    return `${stateType}\u0000${actorId}`;
  }

  /** Called once per durable commit, in version order per actor. */
  committed(key: string, version: number): void {
    const waiting = this.#waiting.get(key);
    if (!waiting) return;
    this.#versions.set(key, version);
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
    for (const [key, seen] of reads) if (current(key) > seen) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const wake = () => {
        for (const key of reads.keys()) this.#waiting.get(key)?.delete(wake);
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        for (const key of reads.keys()) this.#waiting.get(key)?.delete(wake);
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

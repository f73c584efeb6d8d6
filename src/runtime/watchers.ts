/**
 * Change notification, the one mechanism under `until` and reactive
 * readers: every durable commit of an actor bumps its version and wakes
 * whoever waits for a version newer than the one they read.
 */
/**
 * What a wait read: each actor key then the version seen of it,
 * `[key, version, key, version, …]`. A flat array, not a Map: a one-entry
 * Map is ~250 bytes, and 100,000 suspended workflows each hold one.
 */
export type ReadVersions = Array<string | number>;

/** One wait for change: woken once, when any of `reads` has a newer version. */
export interface ChangeWaiter {
  /** Its key strings are swapped for the ones already waiting (see `watch`). */
  readonly reads: ReadVersions;
  wake(): void;
}

/** `reads` as a ReadVersions array. */
export function readVersions(reads: ReadonlyMap<string, number>): ReadVersions {
  // Sized up front: `push` would leave room for 17.
  const flat: ReadVersions = new Array<string | number>(2 * reads.size);
  let i = 0;
  for (const [key, version] of reads) {
    flat[i++] = key;
    flat[i++] = version;
  }
  return flat;
}

/** The waiters on one actor key, and that key: new waits share the string. */
class WaitSet extends Set<ChangeWaiter> {
  constructor(readonly key: string) {
    super();
  }
}

/**
 * Told when a key gets its first waiter and loses its last: how actors of
 * other nodes are watched only while someone waits on them (their owner's
 * version stream, src/transport/remote-versions.ts).
 */
export interface WaitObserver {
  /** `seen`: the version the first waiter read. */
  firstWait(key: string, seen: number): void;
  lastWait(key: string): void;
}

/** The durable version of a key now; `seen` is what the waiter read (for keys only known from afar). */
export type CurrentVersion = (key: string, seen: number) => number;

export class Watchers {
  readonly #waiting = new Map<string, WaitSet>();

  /** `observer`: only with several nodes; one process alone has none. */
  constructor(private readonly observer?: WaitObserver) {}

  static key(stateType: string, actorId: string): string {
    return `${stateType}\u0000${actorId}`;
  }

  /** Called once per durable commit, in version order per actor. */
  committed(key: string, _version: number): void {
    const waiting = this.#waiting.get(key);
    if (!waiting) return;
    this.#waiting.delete(key);
    this.observer?.lastWait(key);
    for (const waiter of waiting) {
      this.unwatch(waiter);
      waiter.wake();
    }
  }

  /**
   * Wakes `waiter` once, when any of its reads has another durable version
   * (newer, or 0 once deleted), or at once if one already has. `current` tells the durable version now,
   * for commits that landed between read and wait. A small object per wait
   * and no closure: 100,000 suspended workflows wait here, and a key read
   * by many of them is held once.
   */
  watch(waiter: ChangeWaiter, current: CurrentVersion): void {
    const reads = waiter.reads;
    for (let i = 0; i < reads.length; i += 2) {
      // Not `>`: a deleted actor's version goes back to 0.
      if (current(reads[i] as string, reads[i + 1] as number) !== (reads[i + 1] as number)) return waiter.wake();
    }
    for (let i = 0; i < reads.length; i += 2) {
      const key = reads[i] as string;
      let set = this.#waiting.get(key);
      if (!set) {
        this.#waiting.set(key, (set = new WaitSet(key)));
        this.observer?.firstWait(key, reads[i + 1] as number);
      }
      reads[i] = set.key;
      set.add(waiter);
    }
  }

  /** Forgets a wait (no-op if it was woken or never registered). */
  unwatch(waiter: ChangeWaiter): void {
    const reads = waiter.reads;
    for (let i = 0; i < reads.length; i += 2) {
      const key = reads[i] as string;
      const set = this.#waiting.get(key);
      if (!set?.delete(waiter)) continue;
      if (set.size === 0) {
        this.#waiting.delete(key);
        this.observer?.lastWait(key);
      }
    }
  }

  /** `watch` as a promise; rejects with the signal's reason if it fires first. */
  waitForAny(
    reads: ReadonlyMap<string, number>,
    current: CurrentVersion,
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
        reads: readVersions(reads),
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

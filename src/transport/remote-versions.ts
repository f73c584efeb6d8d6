import type { Watchers, WaitObserver } from "../runtime/watchers.js";
import type { PeerVersions } from "./peer-versions.js";

/** How long a key nobody waits on stays subscribed: a reactive reader re-watches right after each commit. */
const IDLE_MS = 5_000;

interface Watched {
  /** The newest version heard from the owner (or read there). */
  version: number;
  readonly stop: () => void;
  idle?: NodeJS.Timeout;
}

/**
 * The durable versions of actors other nodes own, while someone here waits
 * on them (DESIGN.md §9): the first waiter on a key subscribes to its
 * owner's version stream with the version it read (the owner answers at
 * once if that is already stale: nothing committed between the read and
 * the subscription is missed); each commit there wakes the key's waiters
 * here; a broken stream wakes them all (anything may have changed). The
 * last waiter gone, the key is dropped after a short idle time.
 */
export class RemoteVersions implements WaitObserver {
  readonly #watched = new Map<string, Watched>();
  #watchers: Watchers | undefined;

  constructor(
    private readonly index: number,
    /** The node owning an actor key. */
    private readonly ownerOf: (stateType: string, actorId: string) => number,
    private readonly versions: PeerVersions,
  ) {}

  /** The process's watchers, which this wakes (built after this: they take it as their observer). */
  bind(watchers: Watchers): void {
    this.#watchers = watchers;
  }

  firstWait(key: string, seen: number): void {
    const watched = this.#watched.get(key);
    if (watched) {
      clearTimeout(watched.idle);
      watched.idle = undefined;
      return;
    }
    const [stateType, actorId] = key.split("\u0000") as [string, string];
    const node = this.ownerOf(stateType, actorId);
    if (node === this.index) return;
    const entry: Watched = {
      version: seen,
      stop: this.versions.watch(node, stateType, actorId, (version) => this.#heard(key, entry, version), seen),
    };
    this.#watched.set(key, entry);
  }

  lastWait(key: string): void {
    const watched = this.#watched.get(key);
    if (!watched || watched.idle) return;
    watched.idle = setTimeout(() => {
      if (this.#watched.get(key) !== watched) return;
      this.#watched.delete(key);
      watched.stop();
    }, IDLE_MS);
    watched.idle.unref();
  }

  /**
   * The version of a key another node owns, as last heard; `seen` (a
   * version just read there) when nothing was heard yet, or when it is
   * newer than what was (versions only grow but for a deletion, which the
   * stream reports itself).
   */
  durableVersion(key: string, seen?: number): number {
    const watched = this.#watched.get(key);
    if (!watched) return seen ?? 0;
    if (seen !== undefined && seen > watched.version) watched.version = seen;
    return watched.version;
  }

  /** Keys watched now, for tests and gauges. */
  get size(): number {
    return this.#watched.size;
  }

  #heard(key: string, watched: Watched, version: number | undefined): void {
    if (this.#watched.get(key) !== watched) return;
    if (version === undefined) {
      // The stream broke: forget the key (the next wait subscribes again) and wake its waiters to re-read.
      clearTimeout(watched.idle);
      this.#watched.delete(key);
      this.#watchers?.committed(key, 0);
      return;
    }
    // Even when a read got there first (`durableVersion`): waiters that read older versions wake.
    watched.version = version;
    this.#watchers?.committed(key, version);
  }
}

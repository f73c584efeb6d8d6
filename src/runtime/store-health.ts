import { StoreFault, type Store, type StoreFaultReason } from "../store/store.js";
import type { Logger } from "../api/logger.js";

/** Whether the store takes writes, as readiness checks and operators see it. */
export interface StoreHealthStatus {
  /** False while the store refuses commits: writes answer UNAVAILABLE, reads are served. */
  readonly writable: boolean;
  /** Why commits fail, while they do. */
  readonly reason?: StoreFaultReason;
  /** The store's words for the last failure, while failing. */
  readonly detail?: string;
  /** When the current state began (ms since epoch). */
  readonly since: number;
  /** Commits refused since the store began failing (0 while writable). */
  readonly refusedCommits: number;
}

/** The first probe after a failure, then ×2 up to the cap: resuming takes at most about the cap. */
const PROBE_FIRST_MS = 100;
const PROBE_MAX_MS = 2_000;

/**
 * The one owner of "the store refuses writes": counts refused commits,
 * logs once per change of state (never per write), probes the store on a
 * backoff while failing, and tells listeners when it takes writes again
 * (tasks whose bookkeeping failed are re-armed then).
 */
export class StoreHealth {
  #failing: { fault: StoreFault; since: number; refused: number } | undefined;
  #since = Date.now();
  #probe: NodeJS.Timeout | undefined;
  #probeDelay = PROBE_FIRST_MS;
  #stopped = false;
  /** Bumped each time the store takes writes again: a failure from before is old news. */
  #epoch = 0;
  readonly #onWritable = new Set<() => void>();

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
  ) {}

  get writable(): boolean {
    return this.#failing === undefined;
  }

  get status(): StoreHealthStatus {
    const f = this.#failing;
    if (!f) return { writable: true, since: this.#since, refusedCommits: 0 };
    return { writable: false, reason: f.fault.reason, detail: f.fault.message, since: f.since, refusedCommits: f.refused };
  }

  get epoch(): number {
    return this.#epoch;
  }

  /** The fault that commits are refused for, while failing. */
  get fault(): StoreFault | undefined {
    return this.#failing?.fault;
  }

  /** Calls `listener` each time the store takes writes again; returns the unsubscribe. */
  onWritable(listener: () => void): () => void {
    this.#onWritable.add(listener);
    return () => this.#onWritable.delete(listener);
  }

  /**
   * A commit was refused (or refused at once because the store is failing);
   * `epoch` is the health's epoch when the commit was issued.
   */
  refused(fault: StoreFault, epoch = this.#epoch): void {
    if (epoch !== this.#epoch) return;
    if (this.#failing) {
      this.#failing.refused++;
      return;
    }
    this.#failing = { fault, since: Date.now(), refused: 1 };
    if (this.#stopped) return;
    this.logger.error(
      { reason: fault.reason },
      `the store refuses writes: ${fault.message}. Writes answer UNAVAILABLE and tasks wait; ` +
        `reads are served from the last durable state; writes resume by themselves once the store takes them`,
    );
    this.#probeDelay = PROBE_FIRST_MS;
    this.#scheduleProbe();
  }

  /** A probe succeeded: the store takes writes. */
  #succeeded(): void {
    const f = this.#failing;
    if (!f) return;
    this.#failing = undefined;
    this.#epoch++;
    this.#since = Date.now();
    clearTimeout(this.#probe);
    this.#probe = undefined;
    if (this.#stopped) return;
    const seconds = ((this.#since - f.since) / 1000).toFixed(1);
    this.logger.warn(
      { reason: f.fault.reason, refusedCommits: f.refused },
      `the store takes writes again after ${seconds} s (${f.fault.reason}); ${f.refused} commit${f.refused === 1 ? " was" : "s were"} refused meanwhile`,
    );
    for (const listener of this.#onWritable) {
      try {
        listener();
      } catch (e) {
        this.logger.error({ err: e }, "a store-health listener threw");
      }
    }
  }

  #scheduleProbe(): void {
    if (this.#stopped || this.#probe) return;
    this.#probe = setTimeout(() => {
      this.#probe = undefined;
      if (!this.#failing || this.#stopped) return;
      this.store.probe().then(
        () => this.#succeeded(),
        (e: unknown) => {
          if (this.#failing && e instanceof StoreFault) this.#failing.fault = e;
          this.#probeDelay = Math.min(PROBE_MAX_MS, this.#probeDelay * 2);
          this.#scheduleProbe();
        },
      );
    }, this.#probeDelay);
    this.#probe.unref();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#probe);
    this.#probe = undefined;
  }
}

import { DelegatingStore } from "../store/delegating-store.js";
import { StoreFault, type CommitBatch, type ExpiryLimits, type ExpiryResult, type Store } from "../store/store.js";
import { StoreUnavailable } from "../api/errors.js";
import type { StoreHealth } from "./store-health.js";
import type { RuntimeMetrics } from "./metrics.js";

/**
 * The store as the runtime uses it: every commit's failure reaches its
 * caller as StoreUnavailable (UNAVAILABLE, with the reason) and the store's
 * health hears of it. While the store is failing, commits are refused at
 * once without touching it (no half-done work piles up, no noise): the
 * health's probe finds out when it takes writes again.
 */
export class MonitoredStore extends DelegatingStore {
  constructor(
    inner: Store,
    readonly health: StoreHealth,
    /** Counts commits and their sizes. */
    private readonly metrics?: RuntimeMetrics,
  ) {
    super(inner);
  }

  override commit(batch: CommitBatch, options?: { visibleOnly?: boolean }): Promise<void> {
    return this.#write(() => this.inner.commit(batch, options), (ok) => this.metrics?.commit(batch, ok));
  }

  override deleteExpired(limits: ExpiryLimits): Promise<ExpiryResult> {
    return this.#write(() => this.inner.deleteExpired(limits));
  }

  /** `issued` hears whether the write went to the store (false: refused here). */
  #write<T>(write: () => Promise<T>, issued?: (ok: boolean) => void): Promise<T> {
    const fault = this.health.fault;
    if (fault) {
      this.health.refused(fault);
      issued?.(false);
      return Promise.reject(new StoreUnavailable(fault.message, fault));
    }
    // Only the probe says the store is well again: a commit issued before
    // the failure may still succeed after it.
    const epoch = this.health.epoch;
    issued?.(true);
    return write().catch((e: unknown) => {
      if (!(e instanceof StoreFault)) throw e;
      this.health.refused(e, epoch);
      throw new StoreUnavailable(e.message, e);
    });
  }
}

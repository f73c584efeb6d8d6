import { StoreFault, type CommitBatch, type Store } from "../store/store.js";
import { StoreUnavailable } from "../api/errors.js";
import type { StoreHealth } from "./store-health.js";

/**
 * The store as the runtime uses it: every commit's failure reaches its
 * caller as StoreUnavailable (UNAVAILABLE, with the reason) and the store's
 * health hears of it. While the store is failing, commits are refused at
 * once without touching it (no half-done work piles up, no noise): the
 * health's probe finds out when it takes writes again.
 */
export class MonitoredStore implements Store {
  constructor(
    private readonly inner: Store,
    readonly health: StoreHealth,
  ) {}

  getState: Store["getState"] = (t, id) => this.inner.getState(t, id);
  getIdempotency: Store["getIdempotency"] = (key) => this.inner.getIdempotency(key);
  getTask: Store["getTask"] = (id) => this.inner.getTask(id);
  tasks: Store["tasks"] = () => this.inner.tasks();
  getMemo: Store["getMemo"] = (key) => this.inner.getMemo(key);
  dueTaskIds: Store["dueTaskIds"] = (from, to) => this.inner.dueTaskIds(from, to);
  getSchedule: Store["getSchedule"] = (id) => this.inner.getSchedule(id);
  schedules: Store["schedules"] = () => this.inner.schedules();
  taskEvents: Store["taskEvents"] = (id) => this.inner.taskEvents(id);
  getProgress: Store["getProgress"] = (id) => this.inner.getProgress(id);
  onTasksChanged: Store["onTasksChanged"] = (listener) => this.inner.onTasksChanged(listener);

  commit(batch: CommitBatch, options?: { visibleOnly?: boolean }): Promise<void> {
    const fault = this.health.fault;
    if (fault) {
      this.health.refused(fault);
      return Promise.reject(new StoreUnavailable(fault.message, fault));
    }
    // Only the probe says the store is well again: a commit issued before
    // the failure may still succeed after it.
    const epoch = this.health.epoch;
    return this.inner.commit(batch, options).catch((e: unknown) => {
      if (!(e instanceof StoreFault)) throw e;
      this.health.refused(e, epoch);
      throw new StoreUnavailable(e.message, e);
    });
  }

  probe(): Promise<void> {
    return this.inner.probe();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

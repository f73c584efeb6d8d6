import type { CommitBatch, ExpiryLimits, ExpiryResult, Store } from "./store.js";

/**
 * A Store that hands every call to `inner`: the base of wrappers that
 * change a few calls (the runtime's health-watching store, a test's fault
 * injector) and pass the rest through.
 */
export class DelegatingStore implements Store {
  constructor(protected readonly inner: Store) {}

  get epoch(): number {
    return this.inner.epoch;
  }
  getState: Store["getState"] = (t, id) => this.inner.getState(t, id);
  get twoPhase(): Store["twoPhase"] {
    return this.inner.twoPhase;
  }
  getIdempotency: Store["getIdempotency"] = (key) => this.inner.getIdempotency(key);
  getTask: Store["getTask"] = (id) => this.inner.getTask(id);
  tasks: Store["tasks"] = (range) => this.inner.tasks(range);
  getMemo: Store["getMemo"] = (key) => this.inner.getMemo(key);
  memoKeys: Store["memoKeys"] = (taskId, iteration) => this.inner.memoKeys(taskId, iteration);
  dueTaskIds: Store["dueTaskIds"] = (from, to) => this.inner.dueTaskIds(from, to);
  getSchedule: Store["getSchedule"] = (id) => this.inner.getSchedule(id);
  schedules: Store["schedules"] = () => this.inner.schedules();
  taskEvents: Store["taskEvents"] = (id) => this.inner.taskEvents(id);
  getProgress: Store["getProgress"] = (id) => this.inner.getProgress(id);
  onTasksChanged: Store["onTasksChanged"] = (listener) => this.inner.onTasksChanged(listener);

  commit(batch: CommitBatch, options?: { visibleOnly?: boolean }): Promise<void> {
    return this.inner.commit(batch, options);
  }

  deleteExpired(limits: ExpiryLimits): Promise<ExpiryResult> {
    return this.inner.deleteExpired(limits);
  }

  probe(): Promise<void> {
    return this.inner.probe();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

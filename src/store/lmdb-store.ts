import { open, type Database, type RootDatabase } from "lmdb";
import {
  CommitConflictError,
  type CommitBatch,
  type IdempotencyRecord,
  type MemoKey,
  type MemoRecord,
  type ScheduleRecord,
  type Store,
  type TaskRecord,
  type StoredState,
  type TaskEventRecord,
  type TaskProgressRecord,
  TASK_HISTORY_LIMIT,
} from "./store.js";

export type Durability = "durable" | "relaxed";

export interface LmdbStoreOptions {
  path: string;
  /** "relaxed" acknowledges writes once visible, before fsync. */
  durability?: Durability;
}

type StateKey = [string, string];
/** [taskId, seq]: seq counts a task's events from 0, without gaps. */
type EventKey = [string, number];
/** [runAt, taskId] of every task waiting to run. */
type DueKey = [number, string];

/** Bumped when an index must be rebuilt from the tasks on open. */
const DUE_INDEX_VERSION = 1;

/** Waiting to run: in the due index. Ended and paused tasks are not. */
function isDue(task: TaskRecord): boolean {
  return task.status === "scheduled" || task.status === "running";
}

/**
 * One LMDB environment per partition. Writes issued in the same event turn
 * land in one LMDB transaction (lmdb-js batches them), so concurrent
 * commits share one fsync: that is our group commit.
 */
export class LmdbStore implements Store {
  private readonly root: RootDatabase;
  private readonly states: Database<StoredState, StateKey>;
  private readonly idempotency: Database<IdempotencyRecord, string>;
  private readonly taskDb: Database<TaskRecord, string>;
  private readonly memoDb: Database<MemoRecord, MemoKey>;
  private readonly scheduleDb: Database<ScheduleRecord, string>;
  private readonly eventDb: Database<TaskEventRecord, EventKey>;
  private readonly progressDb: Database<TaskProgressRecord, string>;
  private readonly dueDb: Database<true, DueKey>;
  private readonly durability: Durability;
  readonly #taskListeners = new Set<(taskIds: ReadonlySet<string>) => void>();

  constructor(options: LmdbStoreOptions) {
    this.durability = options.durability ?? "durable";
    this.root = open({ path: options.path, maxDbs: 16, compression: false });
    this.states = this.root.openDB<StoredState, StateKey>({ name: "state" });
    this.idempotency = this.root.openDB<IdempotencyRecord, string>({ name: "idempotency" });
    this.taskDb = this.root.openDB<TaskRecord, string>({ name: "tasks" });
    this.memoDb = this.root.openDB<MemoRecord, MemoKey>({ name: "memo" });
    this.scheduleDb = this.root.openDB<ScheduleRecord, string>({ name: "schedules" });
    this.eventDb = this.root.openDB<TaskEventRecord, EventKey>({ name: "events" });
    this.progressDb = this.root.openDB<TaskProgressRecord, string>({ name: "progress" });
    this.dueDb = this.root.openDB<true, DueKey>({ name: "due" });
    const meta = this.root.openDB<number, string>({ name: "meta" });
    // A data directory from before the index (or of an older one): build it.
    if (meta.get("due-index") !== DUE_INDEX_VERSION) {
      this.root.transactionSync(() => {
        for (const key of this.dueDb.getKeys()) this.dueDb.remove(key);
        for (const { value } of this.taskDb.getRange()) if (isDue(value)) this.dueDb.put([value.runAt, value.taskId], true);
        meta.put("due-index", DUE_INDEX_VERSION);
      });
    }
  }

  *dueTaskIds(from: number, to: number): Iterable<string> {
    for (const key of this.dueDb.getKeys({ start: [from], end: [to] })) yield key[1];
  }

  getState(stateType: string, actorId: string): StoredState | undefined {
    return this.states.get([stateType, actorId]);
  }

  getIdempotency(key: string): IdempotencyRecord | undefined {
    return this.idempotency.get(key);
  }

  getTask(taskId: string): TaskRecord | undefined {
    return this.taskDb.get(taskId);
  }

  *tasks(): Iterable<TaskRecord> {
    for (const { value } of this.taskDb.getRange()) yield value;
  }

  getMemo(key: MemoKey): MemoRecord | undefined {
    return this.memoDb.get(key);
  }

  getSchedule(scheduleId: string): ScheduleRecord | undefined {
    return this.scheduleDb.get(scheduleId);
  }

  *schedules(): Iterable<ScheduleRecord> {
    for (const { value } of this.scheduleDb.getRange()) yield value;
  }

  taskEvents(taskId: string): TaskEventRecord[] {
    const range = this.eventDb.getRange({ start: [taskId, 0], end: [taskId, Number.MAX_SAFE_INTEGER] });
    return [...range].map(({ value }) => value);
  }

  getProgress(taskId: string): TaskProgressRecord | undefined {
    return this.progressDb.get(taskId);
  }

  onTasksChanged(listener: (taskIds: ReadonlySet<string>) => void): () => void {
    this.#taskListeners.add(listener);
    return () => this.#taskListeners.delete(listener);
  }

  /** Inside a write transaction: appends after the task's last event and drops the one past the bound. */
  #appendEvent(taskId: string, event: TaskEventRecord): void {
    let seq = 0;
    const last = this.eventDb.getKeys({ start: [taskId, Number.MAX_SAFE_INTEGER], end: [taskId, -1], reverse: true, limit: 1 });
    for (const key of last) seq = key[1] + 1;
    this.eventDb.put([taskId, seq], event);
    // Seqs have no gaps, so exactly one event falls out of the window.
    if (seq >= TASK_HISTORY_LIMIT) this.eventDb.remove([taskId, seq - TASK_HISTORY_LIMIT]);
  }

  async commit(batch: CommitBatch, options: { visibleOnly?: boolean } = {}): Promise<void> {
    const applied = await this.root.transaction(() => {
      for (const w of batch.states) {
        const stored = this.states.get([w.stateType, w.actorId]);
        if ((stored?.version ?? 0) !== w.baseVersion) {
          return new CommitConflictError(w.stateType, w.actorId);
        }
      }
      for (const w of batch.states) {
        this.states.put([w.stateType, w.actorId], {
          version: w.state.version,
          bytes: w.state.bytes,
        });
      }
      for (const { key, record } of batch.idempotency) this.idempotency.put(key, record);
      for (const task of batch.tasks ?? []) {
        const old = this.taskDb.get(task.taskId);
        if (old && isDue(old)) this.dueDb.remove([old.runAt, old.taskId]);
        if (isDue(task)) this.dueDb.put([task.runAt, task.taskId], true);
        this.taskDb.put(task.taskId, task);
      }
      for (const { key, record } of batch.memos ?? []) this.memoDb.put(key, record);
      for (const schedule of batch.schedules ?? []) this.scheduleDb.put(schedule.scheduleId, schedule);
      for (const id of batch.deletedSchedules ?? []) this.scheduleDb.remove(id);
      for (const { taskId, event } of batch.events ?? []) this.#appendEvent(taskId, event);
      for (const { taskId, progress } of batch.progress ?? []) this.progressDb.put(taskId, progress);
      return undefined;
    });
    if (applied instanceof Error) throw applied;
    this.#notifyTasks(batch);
    if (this.durability === "durable" && !options.visibleOnly) await this.root.flushed;
  }

  #notifyTasks(batch: CommitBatch): void {
    if (this.#taskListeners.size === 0) return;
    const ids = new Set<string>();
    for (const task of batch.tasks ?? []) ids.add(task.taskId);
    for (const { taskId } of batch.events ?? []) ids.add(taskId);
    for (const { taskId } of batch.progress ?? []) ids.add(taskId);
    if (ids.size === 0) return;
    for (const listener of this.#taskListeners) {
      try {
        listener(ids);
      } catch (e) {
        console.error("cairn: a task listener threw", e);
      }
    }
  }

  async close(): Promise<void> {
    await this.root.flushed;
    await this.root.close();
  }
}

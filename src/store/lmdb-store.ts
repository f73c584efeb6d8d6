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
} from "./store.js";

export type Durability = "durable" | "relaxed";

export interface LmdbStoreOptions {
  path: string;
  /** "relaxed" acknowledges writes once visible, before fsync. */
  durability?: Durability;
}

type StateKey = [string, string];

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
  private readonly durability: Durability;

  constructor(options: LmdbStoreOptions) {
    this.durability = options.durability ?? "durable";
    this.root = open({ path: options.path, maxDbs: 16, compression: false });
    this.states = this.root.openDB<StoredState, StateKey>({ name: "state" });
    this.idempotency = this.root.openDB<IdempotencyRecord, string>({ name: "idempotency" });
    this.taskDb = this.root.openDB<TaskRecord, string>({ name: "tasks" });
    this.memoDb = this.root.openDB<MemoRecord, MemoKey>({ name: "memo" });
    this.scheduleDb = this.root.openDB<ScheduleRecord, string>({ name: "schedules" });
    this.root.openDB({ name: "meta" });
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
      for (const task of batch.tasks ?? []) this.taskDb.put(task.taskId, task);
      for (const { key, record } of batch.memos ?? []) this.memoDb.put(key, record);
      for (const schedule of batch.schedules ?? []) this.scheduleDb.put(schedule.scheduleId, schedule);
      for (const id of batch.deletedSchedules ?? []) this.scheduleDb.remove(id);
      return undefined;
    });
    if (applied instanceof Error) throw applied;
    if (this.durability === "durable" && !options.visibleOnly) await this.root.flushed;
  }

  async close(): Promise<void> {
    await this.root.flushed;
    await this.root.close();
  }
}

import { open, type Database, type RootDatabase } from "lmdb";
import {
  CommitConflictError,
  StoreFault,
  type CommitBatch,
  type ExpiryLimits,
  type ExpiryResult,
  type IdempotencyRecord,
  type MemoKey,
  type MemoRecord,
  type ScheduleRecord,
  type Store,
  type TaskRange,
  type TaskRecord,
  type StoredState,
  type TaskEventRecord,
  type TaskProgressRecord,
  TASK_HISTORY_LIMIT,
  isEnded,
} from "./store.js";
import { backupEnvironment, type BackupResult } from "./backup.js";
import type { Logger } from "../api/logger.js";
import { RetentionIndex } from "./retention-index.js";
import { CommitFence, fenced, takeOwnership } from "./ownership.js";
import { actorIds, statePage, taskRange, type ActorIdFilter, type ActorIdPage, type StateKey } from "./range-scans.js";
import { TwoPhaseRecords } from "./two-phase-records.js";
import { DISK_FULL_BYTES, freeBytesBelow, writeFaultOf } from "./write-faults.js";
import { OwnFlush } from "./own-flush.js";
import { storedVersion } from "./stored-version.js";

export type Durability = "durable" | "relaxed";

export interface LmdbStoreOptions {
  path: string;
  /** "relaxed" acknowledges writes once visible, before fsync. */
  durability?: Durability;
  /** Where a failure no caller sees (a task listener threw) is logged. */
  logger: Logger;
  /** The time retention counts from (ms since epoch). Default Date.now. */
  now?: () => number;
  /** The partition count to record on first open and check on later ones (ownership.ts). */
  partitions?: number;
}

/** [taskId, seq]: seq counts a task's events from 0, without gaps. */
type EventKey = [string, number];
/** [runAt, taskId] of every task waiting to run. */
type DueKey = [number, string];

/** Bumped when an index must be rebuilt from the tasks on open. */
const DUE_INDEX_VERSION = 1;

const ignore = (): void => {};

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
  private readonly meta: Database<number, string>;
  private readonly path: string;
  readonly #logger: Logger;
  private readonly retention: RetentionIndex;
  /** The last write failure, while it may still hold: gates probes. */
  #fault: StoreFault | undefined;
  #batchGuarded = false;
  /** This process's ownership epoch: commits are refused once a newer owner opened the directory (#fence checks). */
  readonly epoch: number;
  readonly #fence: CommitFence;
  readonly twoPhase: TwoPhaseRecords;
  readonly #taskListeners = new Set<(taskIds: ReadonlySet<string>) => void>();
  readonly #ownFlush: OwnFlush;

  constructor(options: LmdbStoreOptions) {
    this.durability = options.durability ?? "durable";
    this.path = options.path;
    this.#logger = options.logger;
    // Durable: no overlapping sync, so lmdb-js's write thread fsyncs inside each
    // commit and a write's promise resolves once it is on disk (DESIGN.md §8).
    // Relaxed: lmdb-js's default, resolved once visible and synced meanwhile.
    this.root = open({ path: options.path, maxDbs: 16, compression: false, overlappingSync: this.durability === "relaxed" });
    this.states = this.root.openDB<StoredState, StateKey>({ name: "state" });
    this.idempotency = this.root.openDB<IdempotencyRecord, string>({ name: "idempotency" });
    this.taskDb = this.root.openDB<TaskRecord, string>({ name: "tasks" });
    this.memoDb = this.root.openDB<MemoRecord, MemoKey>({ name: "memo" });
    this.scheduleDb = this.root.openDB<ScheduleRecord, string>({ name: "schedules" });
    this.eventDb = this.root.openDB<TaskEventRecord, EventKey>({ name: "events" });
    this.progressDb = this.root.openDB<TaskProgressRecord, string>({ name: "progress" });
    this.dueDb = this.root.openDB<true, DueKey>({ name: "due" });
    const meta = (this.meta = this.root.openDB<number, string>({ name: "meta" }));
    // A data directory from before the index (or of an older one): build it.
    if (meta.get("due-index") !== DUE_INDEX_VERSION) {
      this.root.transactionSync(() => {
        for (const key of this.dueDb.getKeys()) this.dueDb.remove(key);
        for (const { value } of this.taskDb.getRange()) if (isDue(value)) this.dueDb.put([value.runAt, value.taskId], true);
        meta.put("due-index", DUE_INDEX_VERSION);
      });
    }
    try {
      this.epoch = takeOwnership(this.root, meta, options.path, options.partitions);
      this.#fence = new CommitFence(meta, this.epoch, options.path);
    } catch (e) {
      void this.root.close();
      throw e;
    }
    this.#ownFlush = new OwnFlush(this.root);
    this.twoPhase = new TwoPhaseRecords(this.root, this.states);
    this.retention = new RetentionIndex(this.root, options.now ?? Date.now);
    this.retention.buildIfMissing(this.root, meta, this.tasks(), this.idempotency.getKeys());
  }

  *dueTaskIds(from: number, to: number): Iterable<string> {
    for (const key of this.dueDb.getKeys({ start: [from], end: [to] })) yield key[1];
  }

  getState(stateType: string, actorId: string): StoredState | undefined {
    return this.states.get([stateType, actorId]);
  }

  /** Up to `limit` actors of `stateType` after `afterActorId`, in id order: a page of an export. */
  statePage(stateType: string, afterActorId: string | undefined, limit: number): Array<{ actorId: string; state: StoredState }> {
    return statePage(this.states, stateType, afterActorId, limit);
  }

  /** Up to `limit` ids of `stateType`'s actors that match `filter`, after `after`, in id order, looking at `scanLimit` ids at most. */
  actorIds(stateType: string, filter: ActorIdFilter, after: string | undefined, limit: number, scanLimit: number): ActorIdPage {
    return actorIds(this.states, stateType, filter, after, limit, scanLimit);
  }

  /** A consistent copy of the live environment into `destination` (see backup.ts). */
  backup(destination: string, compact = false): Promise<BackupResult> {
    return backupEnvironment(this.root, this.path, destination, compact);
  }

  getIdempotency(key: string): IdempotencyRecord | undefined {
    return this.idempotency.get(key);
  }

  getTask(taskId: string): TaskRecord | undefined {
    return this.taskDb.get(taskId);
  }

  tasks(range: TaskRange = {}): Iterable<TaskRecord> {
    return taskRange(this.taskDb, range);
  }

  getMemo(key: MemoKey): MemoRecord | undefined {
    return this.memoDb.get(key);
  }

  memoKeys(taskId: string, iteration: number): Iterable<MemoKey> {
    return this.memoDb.getKeys({ start: [taskId, iteration], end: [taskId, iteration + 1] }) as Iterable<MemoKey>;
  }

  getSchedule(scheduleId: string): ScheduleRecord | undefined {
    return this.scheduleDb.get(scheduleId);
  }

  *schedules(): Iterable<ScheduleRecord> {
    for (const { value } of this.scheduleDb.getRange()) yield value;
  }

  taskEvents(taskId: string): TaskEventRecord[] {
    return [...this.eventDb.getRange({ start: [taskId, 0], end: [taskId, Number.MAX_SAFE_INTEGER] })].map(({ value }) => value);
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

  /** Durable: resolves once on disk (every commit, `visibleOnly` or not: the sync is inside LMDB's commit). Relaxed: once visible. */
  async commit(batch: CommitBatch): Promise<void> {
    const transaction = this.root.transaction(() => {
      const refused = this.#fence.check();
      if (refused) return refused;
      for (const w of batch.states) {
        if (storedVersion(this.states, [w.stateType, w.actorId]) !== w.baseVersion) return new CommitConflictError(w.stateType, w.actorId);
      }
      const moved = this.twoPhase.write(batch); // checks its prepared versions before writing
      if (moved) return moved;
      for (const w of batch.states) {
        if (w.state === null) this.states.remove([w.stateType, w.actorId]);
        else this.states.put([w.stateType, w.actorId], { version: w.state.version, bytes: w.state.bytes });
      }
      for (const { key, record } of batch.idempotency) {
        this.retention.idempotencyWritten(key, this.idempotency.get(key));
        this.idempotency.put(key, record);
      }
      // An ended task is final: a write planned before it ended (an actor's
      // deletion cancelling it) leaves its record and history as they ended.
      let settled: Set<string> | undefined;
      for (const task of batch.tasks ?? []) {
        const old = this.taskDb.get(task.taskId);
        if (old && isEnded(old)) {
          (settled ??= new Set()).add(task.taskId);
          continue;
        }
        if (old && isDue(old)) this.dueDb.remove([old.runAt, old.taskId]);
        if (isDue(task)) this.dueDb.put([task.runAt, task.taskId], true);
        this.retention.taskWritten(old, task);
        // The next iteration has started: no run reads the earlier ones' memos again.
        if (old && task.iteration > old.iteration) this.#removeMemos(task.taskId, task.iteration);
        this.taskDb.put(task.taskId, task);
      }
      for (const { key, record } of batch.memos ?? []) this.memoDb.put(key, record);
      for (const schedule of batch.schedules ?? []) this.scheduleDb.put(schedule.scheduleId, schedule);
      for (const id of batch.deletedSchedules ?? []) this.scheduleDb.remove(id);
      for (const { taskId, event } of batch.events ?? []) if (!settled?.has(taskId)) this.#appendEvent(taskId, event);
      for (const { taskId, progress } of batch.progress ?? []) this.progressDb.put(taskId, progress);
      return undefined;
    });
    this.#guardBatch();
    let applied: CommitConflictError | StoreFault | undefined;
    try {
      applied = await transaction;
    } catch (e) {
      throw await this.#faultOf(e);
    }
    if (applied instanceof StoreFault) throw (this.#fault = applied);
    if (applied instanceof Error) throw applied;
    this.#fault = undefined;
    this.#notifyTasks(batch);
  }

  async deleteExpired(limits: ExpiryLimits): Promise<ExpiryResult> {
    const deletedTasks = new Set<string>();
    const transaction = this.root.transaction((): ExpiryResult | StoreFault => {
      const refused = fenced(this.meta, this.epoch, this.path);
      if (refused) return refused;
      const { tasksEndedBefore: tasksBefore, idempotencyStoredBefore: keysBefore, batch } = limits;
      const ended = tasksBefore === undefined ? [] : this.retention.endedBefore(tasksBefore, batch);
      for (const entry of ended) {
        this.retention.dropEnded(entry);
        const task = this.taskDb.get(entry[1]);
        // Ended again later (a newer entry), or never: only an ended task goes.
        if (!task || !isEnded(task)) continue;
        this.#removeTask(task.taskId);
        deletedTasks.add(task.taskId);
      }
      const stored = keysBefore === undefined ? [] : this.retention.storedBefore(keysBefore, batch);
      for (const entry of stored) {
        const owner = this.idempotency.get(entry[1])?.owner;
        const ownerTask = owner === undefined ? undefined : this.taskDb.get(owner.taskId);
        // A re-run of that iteration would issue the key again (a later iteration never does).
        if (ownerTask && !isEnded(ownerTask) && ownerTask.iteration === owner?.iteration) {
          this.retention.restartStored(entry);
          continue;
        }
        this.retention.dropStored(entry);
        this.idempotency.remove(entry[1]);
      }
      return { tasks: ended.length, idempotency: stored.length, more: ended.length === batch || stored.length === batch };
    });
    this.#guardBatch();
    let result: ExpiryResult | StoreFault;
    try {
      result = await transaction;
    } catch (e) {
      throw await this.#faultOf(e);
    }
    if (result instanceof StoreFault) throw (this.#fault = result);
    this.#fault = undefined;
    if (deletedTasks.size > 0) this.#notify(deletedTasks);
    return result;
  }

  /** Inside a write transaction: a task and everything kept for it. */
  #removeTask(taskId: string): void {
    const task = this.taskDb.get(taskId);
    if (task && isDue(task)) this.dueDb.remove([task.runAt, taskId]);
    this.taskDb.remove(taskId);
    this.#removeMemos(taskId, Number.MAX_SAFE_INTEGER);
    for (const key of this.eventDb.getKeys({ start: [taskId, 0], end: [taskId, Number.MAX_SAFE_INTEGER] })) this.eventDb.remove(key);
    this.progressDb.remove(taskId);
  }

  /** Inside a write transaction: the task's memos of iterations before `iteration`. */
  #removeMemos(taskId: string, iteration: number): void {
    for (const key of this.memoDb.getKeys({ start: [taskId], end: [taskId, iteration] })) this.memoDb.remove(key);
  }

  async probe(): Promise<void> {
    // A full disk is watched without touching LMDB (each failed LMDB commit
    // prints a stack trace of its own, and a tiny write may fit in a freed
    // page while real ones do not): write once space was freed.
    if (this.#fault?.reason === "disk full" && (await this.#freeBytesBelow(DISK_FULL_BYTES))) throw this.#fault;
    const refused = fenced(this.meta, this.epoch, this.path); // never writes again, probe or not
    if (refused) throw (this.#fault = refused);
    const write = this.meta.put("probe", Date.now());
    // Durable: the write resolves once on disk. Relaxed: its own batch's flush, taken now (own-flush.ts).
    const flushed = this.durability === "relaxed" ? this.#ownFlush.of() : undefined;
    this.#guardBatch();
    try {
      await write;
      this.#fault = undefined;
      await flushed;
    } catch (e) {
      throw await this.#faultOf(e);
    }
  }

  /**
   * lmdb-js commits a turn's writes under a promise of its own, made after
   * our writes (write.js, event-turn batching), that nobody awaits: when
   * that commit fails it would be an unhandled rejection and stop the
   * process. Our failure reaches our callers through their own promises,
   * so that one is only observed. Once per event turn, after lmdb's task.
   */
  #guardBatch(): void {
    if (this.#batchGuarded) return;
    this.#batchGuarded = true;
    setImmediate(() => {
      this.#batchGuarded = false;
      this.root.committed.then(ignore, ignore);
    });
  }

  /** What a failed write means (write-faults.ts); a fault is remembered: it gates probes. */
  async #faultOf(e: unknown): Promise<unknown> {
    const fault = await writeFaultOf(e, this.path);
    if (fault instanceof StoreFault) this.#fault = fault;
    return fault;
  }

  #freeBytesBelow(bytes: number): Promise<boolean> {
    return freeBytesBelow(this.path, bytes);
  }

  #notifyTasks(batch: CommitBatch): void {
    if (this.#taskListeners.size === 0) return;
    const ids = new Set<string>();
    for (const task of batch.tasks ?? []) ids.add(task.taskId);
    for (const { taskId } of batch.events ?? []) ids.add(taskId);
    for (const { taskId } of batch.progress ?? []) ids.add(taskId);
    if (ids.size > 0) this.#notify(ids);
  }

  #notify(ids: ReadonlySet<string>): void {
    for (const listener of this.#taskListeners) {
      try {
        listener(ids);
      } catch (e) {
        this.#logger.error({ err: e }, "a task listener threw");
      }
    }
  }

  async close(): Promise<void> {
    await this.root.flushed;
    await this.root.close();
  }
}

import type { Database, RootDatabase } from "lmdb";
import { isEnded, type IdempotencyRecord, type TaskRecord } from "./store.js";

/** [time, id]: when a task ended, or when an idempotency record was stored. */
type AgeKey = [number, string];

/** Bumped when the indexes must be rebuilt from the records on open. */
const RETENTION_INDEX_VERSION = 1;

/**
 * What retention needs of the store: ended tasks by the time they ended, and
 * idempotency records by the time they were stored, so expired ones are
 * found oldest first in a short range read, and a sweep resumes where it
 * stood after a restart (the index is written in the commits that end a
 * task or store a record, and emptied by the commits that delete them).
 */
export class RetentionIndex {
  private readonly ended: Database<true, AgeKey>;
  private readonly stored: Database<true, AgeKey>;

  constructor(
    root: RootDatabase,
    private readonly now: () => number,
  ) {
    this.ended = root.openDB<true, AgeKey>({ name: "ended" });
    this.stored = root.openDB<true, AgeKey>({ name: "idempotency-age" });
  }

  /**
   * A data directory from before the index: everything already ended or
   * stored counts from now, so an upgrade deletes nothing at once.
   */
  buildIfMissing(
    root: RootDatabase,
    meta: Database<number, string>,
    tasks: Iterable<TaskRecord>,
    keys: Iterable<string>,
  ): void {
    if (meta.get("retention-index") === RETENTION_INDEX_VERSION) return;
    const now = this.now();
    root.transactionSync(() => {
      for (const key of this.ended.getKeys()) this.ended.remove(key);
      for (const key of this.stored.getKeys()) this.stored.remove(key);
      for (const task of tasks) if (isEnded(task)) this.ended.put([now, task.taskId], true);
      for (const key of keys) this.stored.put([now, key], true);
      meta.put("retention-index", RETENTION_INDEX_VERSION);
    });
  }

  /** Inside a write transaction: a task record is being replaced by `task`. */
  taskWritten(old: TaskRecord | undefined, task: TaskRecord): void {
    if (isEnded(task) && !(old && isEnded(old))) this.ended.put([this.now(), task.taskId], true);
  }

  /** Inside a write transaction: an idempotency record is being stored. */
  idempotencyWritten(key: string, old: IdempotencyRecord | undefined): void {
    if (!old) this.stored.put([this.now(), key], true);
  }

  /** Index entries of tasks that ended before `before`, oldest first. */
  endedBefore(before: number, limit: number): AgeKey[] {
    return [...this.ended.getKeys({ start: [0], end: [before], limit })];
  }

  /** Index entries of idempotency records stored before `before`, oldest first. */
  storedBefore(before: number, limit: number): AgeKey[] {
    return [...this.stored.getKeys({ start: [0], end: [before], limit })];
  }

  /** Inside a write transaction: the entry is done with (its record deleted, or not ended after all). */
  dropEnded(key: AgeKey): void {
    this.ended.remove(key);
  }

  dropStored(key: AgeKey): void {
    this.stored.remove(key);
  }

  /** Inside a write transaction: the record lives on (its task still runs); it counts from now. */
  restartStored(key: AgeKey): void {
    this.stored.remove(key);
    this.stored.put([this.now(), key[1]], true);
  }
}

/**
 * The storage face the runtime sees. Actors, idempotency and (later) tasks
 * are written through this interface only, so another store can replace
 * LMDB without touching the runtime.
 *
 * Reads are synchronous: the embedded store answers from memory-mapped
 * pages in microseconds, and the runtime's hot paths rely on that.
 */
export interface StoredState {
  /** Monotonic per actor; 1 after the constructor's commit. */
  readonly version: number;
  readonly bytes: Uint8Array;
}

export type StoredOutcome =
  | { readonly kind: "response"; readonly bytes: Uint8Array }
  /** The key started a task (a spawn): replays wait for that task. */
  | { readonly kind: "task"; readonly taskId: string }
  | {
      readonly kind: "aborted";
      readonly typeName: string;
      readonly bytes: Uint8Array;
      readonly message: string;
    };

/** What an idempotency key was first used for, and what it answered. */
export interface IdempotencyRecord {
  readonly stateType: string;
  readonly actorId: string;
  readonly method: string;
  readonly requestHash: string;
  readonly outcome: StoredOutcome;
  /**
   * The workflow run whose call stored it: retention keeps it while that
   * task is at that iteration and has not ended, as a re-run re-issues it.
   */
  readonly owner?: KeyOwner;
}

/** A workflow task at an iteration: what issued an idempotency key from inside a workflow. */
export interface KeyOwner {
  readonly taskId: string;
  readonly iteration: number;
}

export interface StateWrite {
  readonly stateType: string;
  readonly actorId: string;
  /** The version this write was computed from (0: the actor did not exist). */
  readonly baseVersion: number;
  /** The new state; null deletes the actor. */
  readonly state: StoredState | null;
}

/** "cancelled" is final; "paused" waits for an operator's resume. */
export type TaskStatus = "scheduled" | "running" | "completed" | "aborted" | "failed" | "cancelled" | "paused";

/** A durable task: one workflow (or writer) call and where it stands. */
export interface TaskRecord {
  readonly taskId: string;
  readonly stateType: string;
  readonly actorId: string;
  readonly method: string;
  readonly request: Uint8Array;
  readonly status: TaskStatus;
  /** Loop iteration: 0, then +1 per `Loop`. */
  readonly iteration: number;
  /** Failed runs since the last success or iteration; drives backoff. */
  readonly attempts: number;
  /** When the next run may start (ms since epoch). */
  readonly runAt: number;
  readonly createdAt: number;
  /** Set once the task ends: its response or declared error. */
  readonly outcome?: StoredOutcome;
  /** The last unexpected error, for operators. */
  readonly lastError?: string;
  /** The cron schedule that started this task, if one did. */
  readonly scheduleId?: string;
  /** While suspended in awaitRemote: the remote job's status input (JSON). */
  readonly remoteStatusInput?: string;
  /** The application's code version when the task was created (the `version` option), if it had one. */
  readonly codeVersion?: string;
  /** The spawning call's trace context (`traceparent`, …): each run's span continues its trace, also after a restart. */
  readonly trace?: Readonly<Record<string, string>>;
  /**
   * Set on a cancel courier (src/runtime/task-hand-over.ts): the task, on
   * another node, that this task's runs tell of its original's cancel.
   */
  readonly handOverCancel?: string;
}

/** Whether the task has ended: completed, aborted, failed or cancelled (final; retention may delete it). */
export function isEnded(task: Pick<TaskRecord, "status">): boolean {
  return task.status === "completed" || task.status === "aborted" || task.status === "failed" || task.status === "cancelled";
}

/** A cron schedule: starts a workflow each time `cron` matches. */
export interface ScheduleRecord {
  readonly scheduleId: string;
  readonly stateType: string;
  readonly actorId: string;
  readonly method: string;
  readonly request: Uint8Array;
  readonly cron: string;
  /** IANA zone the expression is read in; "" is UTC. */
  readonly timezone: string;
  /** The next due time (ms since epoch). */
  readonly nextRunAt: number;
  /** The task of the latest run, if any. */
  readonly lastTaskId?: string;
  /** Runs skipped because the previous one had not ended. */
  readonly skipped: number;
  readonly createdAt: number;
}

/** A memoized workflow step: its value, or that it started, or its error. */
export type MemoRecord =
  | { readonly kind: "value"; readonly json: string }
  | { readonly kind: "started" }
  | { readonly kind: "error"; readonly name: string; readonly message: string };

/**
 * Memo keys: [taskId, iteration, step kind, alias]. Only runs of the task's
 * current iteration read them: the commit that starts the next iteration
 * (a `Loop`) deletes the earlier iterations' memos.
 */
export type MemoKey = [string, number, string, string];

/** One entry of a task's history (spawned, started, step, retried, ...). */
export interface TaskEventRecord {
  readonly at: number;
  readonly kind: string;
  readonly detail?: string;
}

/** What `ctx.progress()` last reported, kept apart from the task record. */
export interface TaskProgressRecord {
  readonly location: string;
  readonly fraction?: number;
  readonly remainingMs?: number;
  readonly updatedAt: number;
}

/** Events kept per task: appending one more drops the oldest. */
export const TASK_HISTORY_LIMIT = 100;

/**
 * A participant's vote in two-phase commit (DESIGN.md §9): the new versions
 * of its actors in a transaction coordinated by another partition, kept
 * apart from the actors' states (readers see the old ones) until the
 * coordinator's decision applies or drops them.
 */
export interface PreparedRecord {
  readonly txnId: string;
  /** The coordinator's partition, and its ownership epoch when it asked (fencing). */
  readonly coordinator: number;
  readonly epoch: number;
  /** The transaction's wait-die age: recovery re-locks the actors with it. */
  readonly age: { readonly time: number; readonly origin: number; readonly seq: number };
  /** Checked against the stored versions when prepared, applied as they are on commit. */
  readonly states: readonly StateWrite[];
}

/** A coordinator's durable decision to commit (no record: abort). */
export interface DecisionRecord {
  readonly txnId: string;
  /** The partitions that prepared: each must apply before the record is forgotten. */
  readonly participants: readonly number[];
}

/** What a partition prepared and decided in two-phase commit. */
export interface TwoPhaseReads {
  /** The transactions this partition prepared and has not seen decided. */
  preparedRecords(): Iterable<PreparedRecord>;
  getPrepared(txnId: string): PreparedRecord | undefined;
  /** The commits this partition decided as coordinator whose participants may not all have applied. */
  decisions(): Iterable<DecisionRecord>;
  getDecision(txnId: string): DecisionRecord | undefined;
}

/** Everything one mutation makes durable, atomically. */
export interface CommitBatch {
  readonly states: readonly StateWrite[];
  readonly idempotency: ReadonlyArray<{ readonly key: string; readonly record: IdempotencyRecord }>;
  readonly tasks?: readonly TaskRecord[];
  readonly memos?: ReadonlyArray<{ readonly key: MemoKey; readonly record: MemoRecord }>;
  /** Cron schedules created or updated. */
  readonly schedules?: readonly ScheduleRecord[];
  /** Ids of cron schedules deleted. */
  readonly deletedSchedules?: readonly string[];
  /** Appended to the tasks' histories, in order (bounded: TASK_HISTORY_LIMIT). */
  readonly events?: ReadonlyArray<{ readonly taskId: string; readonly event: TaskEventRecord }>;
  readonly progress?: ReadonlyArray<{ readonly taskId: string; readonly progress: TaskProgressRecord }>;
  /** Two-phase commit: prepared records stored (their base versions checked) or removed, decisions stored or forgotten. */
  readonly prepared?: readonly PreparedRecord[];
  readonly unprepared?: readonly string[];
  readonly decided?: readonly DecisionRecord[];
  readonly forgotten?: readonly string[];
}

/** A commit whose base version no longer matches what is stored. */
export class CommitConflictError extends Error {
  constructor(stateType: string, actorId: string) {
    super(`commit conflict on ${stateType}/${actorId}: an earlier commit it built on failed`);
  }
}

/** Why the store refused a write: what a caller and an operator are told. */
/** "fenced": a newer owner opened the partition (ownership.ts); this process may never write to it again. */
export type StoreFaultReason = "disk full" | "I/O error" | "map full" | "write failed" | "fenced";

/**
 * The store could not make a commit durable (the disk is full, the device
 * failed, the map cannot grow): nothing of the batch was written. Reads
 * still answer from the last durable state.
 */
export class StoreFault extends Error {
  override readonly name = "StoreFault";
  constructor(
    readonly reason: StoreFaultReason,
    /** The system's code (errno name or number), if it gave one. */
    readonly code?: string | number,
    options?: { cause?: unknown },
  ) {
    const detail = options?.cause instanceof Error ? options.cause.message : undefined;
    const parts = [detail, code === undefined ? undefined : `code ${String(code)}`].filter((p) => p !== undefined);
    super(parts.length > 0 ? `${reason} (${parts.join(", ")})` : reason, options);
  }

  /** Whether `e` is the storage engine saying a write failed (it carries a system code). */
  static isEngineFailure(e: unknown): boolean {
    if (e instanceof StoreFault) return true;
    const o = e as { code?: unknown; commitError?: unknown } | undefined;
    return typeof o?.code === "number" || typeof o?.code === "string" || o?.commitError !== undefined;
  }

  /** Classifies an error from the storage engine by its code; `diskFull` when free space says so. */
  static from(e: unknown, diskFull = false): StoreFault {
    if (e instanceof StoreFault) return e;
    const code = (e as { code?: unknown } | undefined)?.code;
    const c = typeof code === "string" || typeof code === "number" ? code : undefined;
    const reason: StoreFaultReason =
      diskFull || c === "ENOSPC" || c === 28 || c === "EDQUOT" || c === 122
        ? "disk full"
        : c === "MDB_MAP_FULL" || c === -30792
          ? "map full"
          : c === "EIO" || c === 5
            ? "I/O error"
            : "write failed";
    return new StoreFault(reason, c, { cause: e });
  }
}

/** What one retention sweep may delete: records older than these times (ms since epoch). */
export interface ExpiryLimits {
  /** Ended tasks that ended before this (with memos, events, progress); undefined: none. */
  readonly tasksEndedBefore?: number;
  /** Idempotency records stored before this; undefined: none. */
  readonly idempotencyStoredBefore?: number;
  /** At most this many of each in one commit. */
  readonly batch: number;
}

/** How many records one sweep deleted (or found not expired after all). */
export interface ExpiryResult {
  readonly tasks: number;
  readonly idempotency: number;
  /** A full batch of either: more may be expired. */
  readonly more: boolean;
}

/** A stretch of the task table, [atLeast, below) by task id, and which way to walk it. */
export interface TaskRange {
  /** The lowest id walked (it need not exist); none: from the first. */
  readonly atLeast?: string;
  /** Ids below this one only; none: to the last. */
  readonly below?: string;
  /** Highest id first. */
  readonly reverse?: boolean;
}

export interface Store {
  /** This process's ownership epoch of the partition (ownership.ts): a coordinator names it to participants. */
  readonly epoch: number;
  getState(stateType: string, actorId: string): StoredState | undefined;
  /** Two-phase commit's records (written through `commit`). */
  readonly twoPhase: TwoPhaseReads;
  getIdempotency(key: string): IdempotencyRecord | undefined;
  getTask(taskId: string): TaskRecord | undefined;
  /**
   * Every task, in task id order (ids sort by creation time), or those of
   * `range`, highest id first with `range.reverse`.
   */
  tasks(range?: TaskRange): Iterable<TaskRecord>;
  getMemo(key: MemoKey): MemoRecord | undefined;
  /** The keys of the memos of one iteration of a task, in key order. */
  memoKeys(taskId: string, iteration: number): Iterable<MemoKey>;
  /**
   * Ids of the tasks waiting to run (not ended, not paused) whose `runAt` is
   * in [from, to), in due order: the dispatcher gives timers only to tasks
   * due soon and finds the rest here as their time comes near.
   */
  dueTaskIds(from: number, to: number): Iterable<string>;
  getSchedule(scheduleId: string): ScheduleRecord | undefined;
  /** Every cron schedule, in id order. */
  schedules(): Iterable<ScheduleRecord>;
  /** The task's newest events (at most TASK_HISTORY_LIMIT), oldest first. */
  taskEvents(taskId: string): TaskEventRecord[];
  getProgress(taskId: string): TaskProgressRecord | undefined;
  /**
   * Calls `listener` after each commit that wrote a task's record, events
   * or progress (once visible), with those task ids; returns the unsubscribe.
   */
  onTasksChanged(listener: (taskIds: ReadonlySet<string>) => void): () => void;
  /**
   * Applies the batch atomically if every state write's base version is
   * the stored one, and resolves once it is durable (or, with `visibleOnly`,
   * once later reads see it: for records whose loss only repeats work, and
   * which any later durable commit makes durable too, as commits are
   * ordered). Rejects with CommitConflictError (nothing written) otherwise,
   * and with StoreFault when the store cannot write (nothing written).
   */
  commit(batch: CommitBatch, options?: { visibleOnly?: boolean }): Promise<void>;
  /**
   * Deletes, in one commit, up to `limits.batch` of each kind of expired
   * record, oldest first: ended tasks with their memos, events and progress,
   * and idempotency records (kept while their owner task has not ended).
   * A task that is not ended is never deleted. Resolves once visible.
   */
  deleteExpired(limits: ExpiryLimits): Promise<ExpiryResult>;
  /**
   * Makes one tiny write durable, or rejects with StoreFault: asked while
   * commits fail, to learn when the store takes writes again.
   */
  probe(): Promise<void>;
  close(): Promise<void>;
}

import type { Store, TaskEventRecord, TaskProgressRecord, TaskRecord } from "../../store/store.js";
import type { Dispatcher } from "./dispatcher.js";
import { inListingOrder, listingOrder, mergeInOrder } from "./id-order.js";

export type { TaskProgressRecord, TaskRecord };

/** A task's status as shown to operators and clients. */
export type TaskStatusName = TaskRecord["status"];

/** What the wire face needs to know of the task progress hub. */
export interface ProgressSource {
  progress(taskId: string): TaskProgressRecord | undefined;
  subscribe(taskId: string, onChange: () => void): () => void;
}

/** A task as `cairn.v1.Tasks` shows it: the record, its shown status, progress and history. */
export interface TaskView {
  readonly task: TaskRecord;
  readonly status: TaskStatusName;
  readonly progress?: TaskProgressRecord;
  readonly history: readonly TaskEventRecord[];
  /** The full name of the message the task's method returns ("" if the method is not served). */
  readonly responseType: string;
}

export interface TaskFilter {
  readonly stateType?: string;
  readonly actorId?: string;
  /** The method's local name. */
  readonly method?: string;
  /** The status as shown (see `TaskView.status`). */
  readonly status?: TaskStatusName;
  readonly limit: number;
  /** Continue after this task id (the previous page's `next`, in listing order: id-order.ts). */
  readonly after?: string;
  readonly newestFirst?: boolean;
}

/** One partition's tasks: where they are stored, run and report progress. */
export interface TaskHome {
  /** Its partition: its table holds the ids marked with it (id-order.ts). */
  readonly partition: number;
  readonly store: Pick<Store, "getTask" | "tasks" | "taskEvents" | "onTasksChanged">;
  readonly tasks: Pick<Dispatcher, "isRunning" | "waitFinal" | "cancel" | "pause" | "resume">;
  readonly taskHub: ProgressSource;
}

/** The partitions' tasks: the home an id names (or every one, for an unmarked id), and all of them. */
export interface TaskHomes {
  holderOf(taskId: string, has: (home: TaskHome) => boolean): TaskHome | undefined;
  hosted(): TaskHome[];
}

/** One page of a task listing. */
export interface TaskPage {
  readonly views: TaskView[];
  /** The task id to continue after; undefined at the end of the table. */
  readonly next?: string;
}

/**
 * Tasks one listing call examines at most: a filter that matches few of
 * 100,000 tasks answers a partial page (and a `next`) rather than holding
 * the event loop for a full scan.
 */
export const LIST_SCAN_LIMIT = 20_000;

/**
 * The read side of the task table, for the wire face: it asks here and
 * maps what it gets, and never reads the store itself.
 */
export class TaskQueries {
  constructor(
    private readonly homes: TaskHomes,
    /** The response type of a task's method, by its state type and method name. */
    private readonly responseTypeOf: (stateType: string, method: string) => string,
  ) {}

  /** The partition holding the task, if any holds it. */
  #home(taskId: string): TaskHome | undefined {
    return this.homes.holderOf(taskId, (h) => h.store.getTask(taskId) !== undefined);
  }

  /** The partition that holds a task found by `get`. */
  #homeOf(task: TaskRecord): TaskHome {
    const home = this.#home(task.taskId);
    if (!home) throw new Error(`task ${task.taskId} is on no partition`);
    return home;
  }

  get(taskId: string): TaskRecord | undefined {
    return this.#home(taskId)?.store.getTask(taskId);
  }

  /** The task with its newest progress (live while it runs) and its history. */
  describe(task: TaskRecord): TaskView {
    const home = this.#homeOf(task);
    return {
      task,
      status: this.#shownStatus(task, home),
      progress: home.taskHub.progress(task.taskId),
      history: home.store.taskEvents(task.taskId),
      responseType: this.responseTypeOf(task.stateType, task.method),
    };
  }

  /** The task and its shown status, without progress or history. */
  summary(task: TaskRecord, home = this.#homeOf(task)): TaskView {
    return { task, status: this.#shownStatus(task, home), history: [], responseType: this.responseTypeOf(task.stateType, task.method) };
  }

  /**
   * A page of tasks in listing order (creation order, across partitions:
   * see id-order.ts), or newest first, as summaries with their progress.
   * The hosted partitions are merged lazily, each read from the page token on.
   */
  list(filter: TaskFilter): TaskPage {
    const views: TaskView[] = [];
    const order = listingOrder(filter.newestFirst);
    const idOf = (t: TaskRecord) => t.taskId;
    const streams = this.homes.hosted().map((home) =>
      map(inListingOrder(home.partition, (range) => home.store.tasks(range), idOf, filter.after, filter.newestFirst), (task) => ({ task, home })),
    );
    let scanned = 0;
    let last: string | undefined;
    for (const { task, home } of mergeInOrder(streams, (e) => e.task.taskId, filter.newestFirst)) {
      if (filter.after !== undefined && order(task.taskId, filter.after) <= 0) continue;
      // Full, or examined enough: the caller goes on from here if it wants.
      if (views.length >= filter.limit || scanned >= LIST_SCAN_LIMIT) return { views, next: last };
      scanned++;
      last = task.taskId;
      // A cancel courier is the cancel's bookkeeping, not a task anyone started.
      if (task.handOverCancel !== undefined) continue;
      if (filter.stateType && task.stateType !== filter.stateType) continue;
      if (filter.actorId && task.actorId !== filter.actorId) continue;
      if (filter.method && task.method !== filter.method) continue;
      const view = this.summary(task, home);
      if (filter.status !== undefined && view.status !== filter.status) continue;
      // A page is small: its rows show their progress too.
      views.push({ ...view, progress: home.taskHub.progress(task.taskId) });
    }
    return { views };
  }

  /** Calls `onChange` with the ids of the tasks each commit touched, on every hosted partition; returns the unsubscribe. */
  onAnyChange(onChange: (taskIds: ReadonlySet<string>) => void): () => void {
    const unsubscribes = this.homes.hosted().map((home) => home.store.onTasksChanged(onChange));
    return () => {
      for (const unsubscribe of unsubscribes) unsubscribe();
    };
  }

  /** Calls `onChange` on each change of the task's record, history or progress; returns the unsubscribe. */
  subscribe(taskId: string, onChange: () => void): () => void {
    const home = this.#home(taskId);
    return home ? home.taskHub.subscribe(taskId, onChange) : () => {};
  }

  /** Waits for the task to end, on its partition. */
  waitFinal(taskId: string, signal?: AbortSignal): Promise<TaskRecord> {
    return (this.#home(taskId) ?? this.homes.hosted()[0]!).tasks.waitFinal(taskId, signal);
  }

  /** Cancels, pauses or resumes the task on its partition (NOT_FOUND from the dispatcher if none has it). */
  control(taskId: string, action: "cancel" | "pause" | "resume"): Promise<TaskRecord> {
    return (this.#home(taskId) ?? this.homes.hosted()[0]!).tasks[action](taskId);
  }

  // A scheduled task running now (or waiting on a remote job, though no
  // run is in memory) shows as running.
  #shownStatus(task: TaskRecord, home: TaskHome): TaskStatusName {
    const running = home.tasks.isRunning(task.taskId) || task.remoteStatusInput !== undefined;
    return running && task.status === "scheduled" ? "running" : task.status;
  }
}

function* map<T, U>(items: Iterable<T>, f: (item: T) => U): Generator<U> {
  for (const item of items) yield f(item);
}

import type { Store, TaskEventRecord, TaskProgressRecord, TaskRecord } from "../../store/store.js";

export type { TaskRecord };

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
  /** Continue after this task id (the previous page's `next`). */
  readonly after?: string;
  readonly newestFirst?: boolean;
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
    private readonly store: Pick<Store, "getTask" | "tasks" | "taskEvents" | "onTasksChanged">,
    private readonly isRunning: (taskId: string) => boolean,
    private readonly hub: ProgressSource,
    /** The response type of a task's method, by its state type and method name. */
    private readonly responseTypeOf: (stateType: string, method: string) => string,
  ) {}

  get(taskId: string): TaskRecord | undefined {
    return this.store.getTask(taskId);
  }

  /** The task with its newest progress (live while it runs) and its history. */
  describe(task: TaskRecord): TaskView {
    return {
      task,
      status: this.#shownStatus(task),
      progress: this.hub.progress(task.taskId),
      history: this.store.taskEvents(task.taskId),
      responseType: this.responseTypeOf(task.stateType, task.method),
    };
  }

  /** The task and its shown status, without progress or history. */
  summary(task: TaskRecord): TaskView {
    return { task, status: this.#shownStatus(task), history: [], responseType: this.responseTypeOf(task.stateType, task.method) };
  }

  /** A page of tasks in id (so creation) order, or newest first, as summaries with their progress. */
  list(filter: TaskFilter): TaskPage {
    const views: TaskView[] = [];
    let scanned = 0;
    let last: string | undefined;
    for (const task of this.store.tasks({ after: filter.after, reverse: filter.newestFirst })) {
      // Full, or examined enough: the caller goes on from here if it wants.
      if (views.length >= filter.limit || scanned >= LIST_SCAN_LIMIT) return { views, next: last };
      scanned++;
      last = task.taskId;
      if (filter.stateType && task.stateType !== filter.stateType) continue;
      if (filter.actorId && task.actorId !== filter.actorId) continue;
      if (filter.method && task.method !== filter.method) continue;
      const view = this.summary(task);
      if (filter.status !== undefined && view.status !== filter.status) continue;
      // A page is small: its rows show their progress too.
      views.push({ ...view, progress: this.hub.progress(task.taskId) });
    }
    return { views };
  }

  /** Calls `onChange` with the ids of the tasks each commit touched; returns the unsubscribe. */
  onAnyChange(onChange: (taskIds: ReadonlySet<string>) => void): () => void {
    return this.store.onTasksChanged(onChange);
  }

  /** Calls `onChange` on each change of the task's record, history or progress; returns the unsubscribe. */
  subscribe(taskId: string, onChange: () => void): () => void {
    return this.hub.subscribe(taskId, onChange);
  }

  // A scheduled task running now (or waiting on a remote job, though no
  // run is in memory) shows as running.
  #shownStatus(task: TaskRecord): TaskStatusName {
    const running = this.isRunning(task.taskId) || task.remoteStatusInput !== undefined;
    return running && task.status === "scheduled" ? "running" : task.status;
  }
}

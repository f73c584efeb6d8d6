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
  /** The status as shown (see `TaskView.status`). */
  readonly status?: TaskStatusName;
  readonly limit: number;
}

/**
 * The read side of the task table, for the wire face: it asks here and
 * maps what it gets, and never reads the store itself.
 */
export class TaskQueries {
  constructor(
    private readonly store: Pick<Store, "getTask" | "tasks" | "taskEvents">,
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

  /** Tasks in id (so creation) order, as summaries. */
  list(filter: TaskFilter): TaskView[] {
    const views: TaskView[] = [];
    for (const task of this.store.tasks()) {
      if (filter.stateType && task.stateType !== filter.stateType) continue;
      if (filter.actorId && task.actorId !== filter.actorId) continue;
      const view = this.summary(task);
      if (filter.status !== undefined && view.status !== filter.status) continue;
      views.push(view);
      if (views.length >= filter.limit) break;
    }
    return views;
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

import type { Store, TaskEventRecord, TaskProgressRecord, TaskRecord } from "../../store/store.js";
import type { Dispatcher } from "./dispatcher.js";
import { compareIds, inListingOrder, mergeInOrder } from "./id-order.js";

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
  /** List only tasks after this one (the last of the previous page). */
  readonly after?: string;
}

/** One partition's tasks: where they are stored, run and report progress. */
export interface TaskHome {
  readonly store: Pick<Store, "getTask" | "tasks" | "taskEvents">;
  readonly tasks: Pick<Dispatcher, "isRunning" | "waitFinal" | "cancel" | "pause" | "resume">;
  readonly taskHub: ProgressSource;
}

/** The partitions' tasks: the home an id names (or every one, for an unmarked id), and all of them. */
export interface TaskHomes {
  readonly count: number;
  holderOf(taskId: string, has: (home: TaskHome) => boolean): TaskHome | undefined;
  hosted(): TaskHome[];
}

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

  /** Tasks in listing order (creation order, across partitions: see id-order.ts), as summaries. */
  list(filter: TaskFilter): TaskView[] {
    const views: TaskView[] = [];
    const streams = this.homes.hosted().map((home) => {
      const byId = this.homes.count === 1 ? home.store.tasks() : inListingOrder(() => home.store.tasks(), (t: TaskRecord) => t.taskId);
      return map(byId, (task) => ({ task, home }));
    });
    const merged = streams.length === 1 ? streams[0]! : mergeInOrder(streams, (e) => e.task.taskId);
    for (const { task, home } of merged) {
      if (filter.after !== undefined && compareIds(task.taskId, filter.after) <= 0) continue;
      if (filter.stateType && task.stateType !== filter.stateType) continue;
      if (filter.actorId && task.actorId !== filter.actorId) continue;
      const view = this.summary(task, home);
      if (filter.status !== undefined && view.status !== filter.status) continue;
      views.push(view);
      if (views.length >= filter.limit) break;
    }
    return views;
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

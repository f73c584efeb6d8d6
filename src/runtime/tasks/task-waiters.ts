import type { TaskRecord } from "../../store/store.js";
import { CallCancelled } from "../../api/errors.js";

/** Why a wait ended early: the signal's reason, or CANCELED. */
function abandoned(signal: AbortSignal): unknown {
  return signal.reason ?? new CallCancelled("the caller stopped waiting");
}

/** A caller awaiting a task's end. */
interface TaskWaiter {
  settle(task: TaskRecord): void;
  fail(e: unknown): void;
}

/**
 * Callers awaiting tasks' ends. A caller that goes away first (its signal
 * fires: a client closed its Wait, a run stopped) leaves at once: a waiter
 * must never outlive the one waiting.
 */
export class TaskWaiters {
  readonly #byTask = new Map<string, Set<TaskWaiter>>();

  /** Resolves with the task when `settle` is called for it; rejects with the signal's reason if it fires first. */
  wait(taskId: string, signal?: AbortSignal): Promise<TaskRecord> {
    if (signal?.aborted) return Promise.reject(abandoned(signal));
    return new Promise((resolve, reject) => {
      const list = this.#byTask.get(taskId) ?? new Set();
      this.#byTask.set(taskId, list);
      const leave = () => {
        list.delete(waiter);
        if (list.size === 0 && this.#byTask.get(taskId) === list) this.#byTask.delete(taskId);
        reject(abandoned(signal!));
      };
      const waiter: TaskWaiter = {
        settle: (final) => {
          signal?.removeEventListener("abort", leave);
          resolve(final);
        },
        fail: (e) => {
          signal?.removeEventListener("abort", leave);
          reject(e);
        },
      };
      list.add(waiter);
      signal?.addEventListener("abort", leave, { once: true });
    });
  }

  /** The task has ended: its callers hear it. */
  settle(task: TaskRecord): void {
    const list = this.#byTask.get(task.taskId);
    this.#byTask.delete(task.taskId);
    for (const waiter of list ?? []) waiter.settle(task);
  }

  /** Every caller still waiting hears `error` (the application stops). */
  failAll(error: unknown): void {
    for (const list of this.#byTask.values()) for (const waiter of list) waiter.fail(error);
    this.#byTask.clear();
  }

  /** Callers waiting, over all tasks. */
  get size(): number {
    let n = 0;
    for (const list of this.#byTask.values()) n += list.size;
    return n;
  }
}

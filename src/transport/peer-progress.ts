import type { TaskProgress } from "../../generated/cairn/v1/tasks_pb.js";
import type { ProgressSource, TaskHome, TaskProgressRecord, TaskRecord } from "../runtime/tasks/task-queries.js";

/** Where the owner's side finds a task: its partition's dispatcher and progress. */
export interface ProgressHome {
  readonly tasks: Pick<TaskHome["tasks"], "waitFinal">;
  readonly taskHub: ProgressSource;
}

/**
 * The owner's side of a `progress` peer call (a node following a task it
 * handed over here, task-hand-over.ts): answers once the task's progress
 * was updated at another time than `seen` (0: none seen), with it, or once
 * the task has ended, with that. A long poll: the caller asks again, so
 * nothing is queued here however often the task reports.
 */
export async function nextProgress(
  home: ProgressHome,
  taskId: string,
  seen: number,
  signal: AbortSignal,
): Promise<{ readonly ended: TaskRecord } | { readonly progress: TaskProgressRecord }> {
  const done = new AbortController();
  const onAbort = () => done.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  let unsubscribe = () => {};
  try {
    return await new Promise((resolve, reject) => {
      const check = () => {
        const progress = home.taskHub.progress(taskId);
        if (progress && progress.updatedAt !== seen) resolve({ progress });
      };
      unsubscribe = home.taskHub.subscribe(taskId, check);
      home.tasks.waitFinal(taskId, done.signal).then((ended) => resolve({ ended }), reject);
      check();
    });
  } finally {
    unsubscribe();
    signal.removeEventListener("abort", onAbort);
    done.abort();
  }
}

export function progressRecordOf(m: TaskProgress): TaskProgressRecord {
  return {
    location: m.location,
    ...(m.fraction !== undefined && { fraction: m.fraction }),
    ...(m.remainingMs !== undefined && { remainingMs: Number(m.remainingMs) }),
    updatedAt: Number(m.updatedAtMs),
  };
}

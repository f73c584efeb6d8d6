import { useContext, useMemo, useSyncExternalStore } from "react";
import { Tasks, TaskStatus, type TaskInfo, type TaskProgress } from "../../generated/cairn/v1/tasks_pb.js";
import { taskStatusName, type TaskStatusName } from "../api/task-status.js";
import { LiveStream, type LiveStreamOptions } from "../web/live-stream.js";
import type { WebContext } from "../web/web-context.js";
import { CairnReactContext } from "./cairn-context.js";

export interface TaskSnapshot {
  /** The task as `Tasks.Watch` sent it last (status, progress, history, response bytes…). */
  readonly task: TaskInfo | undefined;
  /** "scheduled", "running", "paused", "completed", "aborted", "failed" or "cancelled". */
  readonly status: TaskStatusName | undefined;
  /** The workflow's newest `ctx.progress()`: location, fraction (0..1), remainingMs. */
  readonly progress: TaskProgress | undefined;
  /** True until the first answer. */
  readonly isLoading: boolean;
  /** Why the watch failed last (NOT_FOUND, PERMISSION_DENIED end it; others are retried). */
  readonly error: unknown;
}

export interface UseTaskOptions extends Omit<LiveStreamOptions<TaskInfo>, "isFinal"> {
  /** A WebContext other than the provider's. */
  readonly context?: WebContext;
}

const ENDED = new Set([TaskStatus.COMPLETED, TaskStatus.ABORTED, TaskStatus.FAILED, TaskStatus.CANCELLED]);

/**
 * A task, live through `Tasks.Watch`: its status and progress, re-rendered
 * on each change until it has ended. Callers need to be allowed to read the
 * task (operators, or callers its method's authorizer lets call it).
 *
 *     const { status, progress } = useTask(taskId);
 *     return <progress value={progress?.fraction ?? 0} />;
 */
export function useTask(taskId: string, options: UseTaskOptions = {}): TaskSnapshot {
  const provided = useContext(CairnReactContext);
  const ctx = options.context ?? provided;
  if (!ctx) throw new Error("useTask: pass options.context or put a <CairnProvider> above this component");
  const { retryMs, maxRetryMs } = options;
  const stream = useMemo(
    () =>
      new LiveStream<TaskInfo>((signal) => ctx.client(Tasks).watch({ taskId }, { signal }), {
        retryMs,
        maxRetryMs,
        isFinal: (info) => ENDED.has(info.status),
      }),
    [ctx, taskId, retryMs, maxRetryMs],
  );
  const snapshot = useSyncExternalStore(stream.subscribe, stream.getSnapshot, stream.getSnapshot);
  return useMemo(
    () => ({
      task: snapshot.value,
      status: snapshot.value && taskStatusName(snapshot.value.status),
      progress: snapshot.value?.progress,
      isLoading: snapshot.isLoading,
      error: snapshot.error,
    }),
    [snapshot],
  );
}

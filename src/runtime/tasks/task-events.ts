import type { CommitBatch, MemoRecord, TaskEventRecord, TaskRecord } from "../../store/store.js";
import { StoreUnavailable } from "../../api/errors.js";
import type { TaskHub } from "./progress.js";
import type { TaskHost } from "./task-host.js";

/**
 * A task's history: the events worth showing an operator, each appended in
 * the commit of what it describes where there is one. The store keeps the
 * newest TASK_HISTORY_LIMIT (100) per task.
 */
export type TaskEventKind =
  | "spawned"
  | "started"
  | "step"
  | "retried"
  | "looped"
  | "suspended"
  | "paused"
  | "resumed"
  | "progress"
  | "completed"
  | "aborted"
  | "failed"
  | "cancelled";

export type TaskEvents = NonNullable<CommitBatch["events"]>;

/** An event at `at`: the runtime clock's time, like every time on a task. */
export function taskEvent(at: number, taskId: string, kind: TaskEventKind, detail?: string): TaskEvents[number] {
  const event: TaskEventRecord = detail === undefined ? { at, kind } : { at, kind, detail };
  return { taskId, event };
}

/** For the commit that creates the tasks: at their creation. */
export function spawnedEvents(tasks: readonly TaskRecord[]): TaskEvents {
  return tasks.map((t) => taskEvent(t.createdAt, t.taskId, "spawned", `${t.stateType}(${JSON.stringify(t.actorId)}).${t.method}`));
}

/** For the commit of a memoized step. */
export function stepEvent(at: number, taskId: string, step: string, alias: string, record: MemoRecord): TaskEvents[number] {
  const what = record.kind === "value" ? "stored" : record.kind === "started" ? "started" : `failed (${record.name}: ${record.message})`;
  return taskEvent(at, taskId, "step", `${step} ${JSON.stringify(alias)} ${what}`);
}

/**
 * An event with no commit of its own (a run starts, a step attempt failed):
 * recorded without waiting, as losing it in a crash loses nothing else.
 */
export function recordEvent(host: Pick<TaskHost, "store" | "logger">, event: TaskEvents[number]): void {
  host.store.commit({ states: [], idempotency: [], events: [event] }, { visibleOnly: true }).catch((e: unknown) => {
    if (e instanceof StoreUnavailable) return; // logged once, by the store's health
    host.logger.error({ taskId: event.taskId, err: e }, "the task's history was not stored");
  });
}

export function recordStarted(host: Pick<TaskHost, "clock" | "store" | "logger">, task: TaskRecord): void {
  recordEvent(host, taskEvent(host.clock.now(), task.taskId, "started", `iteration ${task.iteration}, attempt ${task.attempts + 1}`));
}

/**
 * What the commit recording the end of a run adds: the unwritten progress
 * and the events saying how it ended (`task` as the run started, `next` as
 * it is recorded). Operators' cancel and pause record their own event.
 */
export function endOfRun(
  host: Pick<TaskHost, "clock" | "store">,
  hub: TaskHub,
  task: TaskRecord,
  next: TaskRecord,
): Pick<CommitBatch, "events" | "progress"> {
  if (next.status === "completed") hub.complete(task.taskId);
  const { progress, events: progressEvents = [] } = hub.takeForEndOfRun(task.taskId);
  const events: Array<TaskEvents[number]> = [...progressEvents];
  const id = task.taskId;
  const now = host.clock.now();
  const event = (kind: TaskEventKind, detail?: string) => taskEvent(now, id, kind, detail);
  if (next.attempts > task.attempts) {
    const delay = Math.max(0, next.runAt - now);
    events.push(event("retried", `${next.lastError ?? "error"} (attempt ${next.attempts}, next in ${delay} ms)`));
  }
  const stored = host.store.getTask(id)?.status;
  switch (next.status) {
    case "completed":
      events.push(event("completed"));
      break;
    case "aborted":
      events.push(event("aborted", next.outcome?.kind === "aborted" ? `${next.outcome.typeName}: ${next.outcome.message}` : next.lastError));
      break;
    case "failed":
      events.push(event("failed", next.lastError));
      break;
    case "cancelled":
      if (stored !== "cancelled") events.push(event("cancelled"));
      break;
    case "scheduled":
      if (next.iteration > task.iteration) events.push(event("looped", `iteration ${next.iteration}`));
      else if (next.attempts <= task.attempts && next.runAt > now) {
        events.push(event("suspended", `until ${new Date(next.runAt).toISOString()}`));
      }
      break;
    case "paused":
    case "running":
      break;
  }
  return { ...(progress ? { progress } : {}), events };
}

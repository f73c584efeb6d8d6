import { create } from "@bufbuild/protobuf";
import {
  TaskErrorSchema,
  TaskEventSchema,
  TaskInfoSchema,
  TaskProgressSchema,
  type TaskInfo,
  type TaskProgress,
} from "../../generated/cairn/v1/tasks_pb.js";
import type { TaskProgressRecord, TaskView } from "../runtime/tasks/task-queries.js";
import { TASK_STATUS } from "../api/task-status.js";

/**
 * A task as the `cairn.v1.Tasks` service shows it. With `requestType` (a
 * single task's view, not a list's) it carries its request too.
 */
export function toTaskInfo({ task, status, progress, history, responseType }: TaskView, requestType?: string): TaskInfo {
  const outcome = task.outcome;
  return create(TaskInfoSchema, {
    taskId: task.taskId,
    stateType: task.stateType,
    actorId: task.actorId,
    method: task.method,
    status: TASK_STATUS[status],
    iteration: task.iteration,
    attempts: task.attempts,
    runAtMs: BigInt(task.runAt),
    createdAtMs: BigInt(task.createdAt),
    response: outcome?.kind === "response" ? outcome.bytes : new Uint8Array(),
    error:
      outcome?.kind === "aborted"
        ? create(TaskErrorSchema, { typeName: outcome.typeName, value: outcome.bytes, message: outcome.message })
        : undefined,
    lastError: task.lastError ?? "",
    scheduleId: task.scheduleId ?? "",
    responseType,
    codeVersion: task.codeVersion ?? "",
    request: requestType === undefined ? new Uint8Array() : task.request,
    requestType: requestType ?? "",
    // Kept on a task cancelled while waiting: the operator may need the job id.
    remoteStatusInput: task.remoteStatusInput ?? "",
    progress: progress && progressMessage(progress),
    history: history.map((e) => create(TaskEventSchema, { atMs: BigInt(e.at), kind: e.kind, detail: e.detail ?? "" })),
  });
}

/** A task's progress as the wire carries it (in a `TaskInfo`, and to the node following a task handed over here). */
export function progressMessage(p: TaskProgressRecord): TaskProgress {
  return create(TaskProgressSchema, {
    location: p.location,
    fraction: p.fraction,
    remainingMs: p.remainingMs === undefined ? undefined : BigInt(p.remainingMs),
    updatedAtMs: BigInt(p.updatedAt),
  });
}

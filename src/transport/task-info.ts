import { create } from "@bufbuild/protobuf";
import {
  TaskErrorSchema,
  TaskEventSchema,
  TaskInfoSchema,
  TaskProgressSchema,
  TaskStatus,
  type TaskInfo,
} from "../../generated/cairn/v1/tasks_pb.js";
import type { Runtime } from "../runtime/runtime.js";
import { TASK_STATUS } from "./task-status.js";
import type { TaskEventRecord, TaskProgressRecord, TaskRecord } from "../store/store.js";

/** A stored task as the `cairn.v1.Tasks` service shows it. */
export function toTaskInfo(
  task: TaskRecord,
  running: boolean,
  extras: { progress?: TaskProgressRecord; history?: readonly TaskEventRecord[] } = {},
): TaskInfo {
  const { progress, history = [] } = extras;
  const outcome = task.outcome;
  return create(TaskInfoSchema, {
    taskId: task.taskId,
    stateType: task.stateType,
    actorId: task.actorId,
    method: task.method,
    // Waiting on a remote job is running, though no run is in memory.
    status: (running || task.remoteStatusInput !== undefined) && task.status === "scheduled" ? TaskStatus.RUNNING : TASK_STATUS[task.status],
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
    // Kept on a task cancelled while waiting: the operator may need the job id.
    remoteStatusInput: task.remoteStatusInput ?? "",
    progress: progress && create(TaskProgressSchema, {
      location: progress.location,
      fraction: progress.fraction,
      remainingMs: progress.remainingMs === undefined ? undefined : BigInt(progress.remainingMs),
      updatedAtMs: BigInt(progress.updatedAt),
    }),
    history: history.map((e) => create(TaskEventSchema, { atMs: BigInt(e.at), kind: e.kind, detail: e.detail ?? "" })),
  });
}

/** The task with its newest progress (live while it runs) and its history. */
export function describeTask(runtime: Runtime, task: TaskRecord): TaskInfo {
  return toTaskInfo(task, runtime.tasks.isRunning(task.taskId), {
    progress: runtime.taskHub.progress(task.taskId),
    history: runtime.store.taskEvents(task.taskId),
  });
}

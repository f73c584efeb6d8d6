import { create } from "@bufbuild/protobuf";
import { TaskErrorSchema, TaskInfoSchema, TaskStatus, type TaskInfo } from "../../generated/cairn/v1/tasks_pb.js";
import type { TaskRecord } from "../store/store.js";

const STATUS: Record<TaskRecord["status"], TaskStatus> = {
  scheduled: TaskStatus.SCHEDULED,
  running: TaskStatus.RUNNING,
  completed: TaskStatus.COMPLETED,
  aborted: TaskStatus.ABORTED,
  failed: TaskStatus.FAILED,
  cancelled: TaskStatus.CANCELLED,
  paused: TaskStatus.PAUSED,
};

/** A stored task as the `cairn.v1.Tasks` service shows it. */
export function toTaskInfo(task: TaskRecord, running: boolean): TaskInfo {
  const outcome = task.outcome;
  return create(TaskInfoSchema, {
    taskId: task.taskId,
    stateType: task.stateType,
    actorId: task.actorId,
    method: task.method,
    // Waiting on a remote job is running, though no run is in memory.
    status: (running || task.remoteStatusInput !== undefined) && task.status === "scheduled" ? TaskStatus.RUNNING : STATUS[task.status],
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
  });
}

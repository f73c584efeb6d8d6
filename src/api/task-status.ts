import { TaskStatus } from "../../generated/cairn/v1/tasks_pb.js";

/** A task's status by name, as stored and shown (TASK_STATUS[record.status] fails to compile if they part). */
export type TaskStatusName = "scheduled" | "running" | "completed" | "aborted" | "failed" | "cancelled" | "paused";

/** A task's shown status on the wire; its names are what `cairn tasks list --state` takes. */
export const TASK_STATUS: Readonly<Record<TaskStatusName, TaskStatus>> = {
  scheduled: TaskStatus.SCHEDULED,
  running: TaskStatus.RUNNING,
  completed: TaskStatus.COMPLETED,
  aborted: TaskStatus.ABORTED,
  failed: TaskStatus.FAILED,
  cancelled: TaskStatus.CANCELLED,
  paused: TaskStatus.PAUSED,
};

/** The wire status named `name` (lower case), or undefined if there is none. */
export function taskStatusNamed(name: string): TaskStatus | undefined {
  return Object.hasOwn(TASK_STATUS, name) ? TASK_STATUS[name as TaskStatusName] : undefined;
}

/** The name of a wire status, or undefined if it names none. */
export function taskStatusName(status: TaskStatus): TaskStatusName | undefined {
  return (Object.keys(TASK_STATUS) as TaskStatusName[]).find((name) => TASK_STATUS[name] === status);
}

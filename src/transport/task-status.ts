import { TaskStatus } from "../../generated/cairn/v1/tasks_pb.js";
import type { TaskRecord } from "../store/store.js";

/** A stored task's status on the wire; its names are what `cairn tasks list --state` takes. */
export const TASK_STATUS: Readonly<Record<TaskRecord["status"], TaskStatus>> = {
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
  return Object.hasOwn(TASK_STATUS, name) ? TASK_STATUS[name as TaskRecord["status"]] : undefined;
}

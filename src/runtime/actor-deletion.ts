import type { CommitBatch, Store, TaskRecord } from "../store/store.js";
import type { ActorDeletion } from "./call.js";
import { taskEvent } from "./tasks/task-events.js";
import { isFinal } from "./tasks/task-record.js";

/**
 * What deleting an actor removes besides its state, in the same commit
 * (README, "Deleting actors"): its cron schedules, and its tasks that have
 * not ended, as CANCELLED. Ended tasks, their history and idempotency
 * records stay until retention removes them: a retried call replays its
 * answer rather than running again (a retried constructor must not bring a
 * deleted actor back).
 */

/**
 * The deletion of (stateType, actorId) as of now, made by the run of task
 * `byTask` if any: that one runs on to its end (a workflow that closes its
 * actor as its last step completes). Scans the tasks and schedules:
 * deletion is rare.
 */
export function planDeletion(store: Pick<Store, "tasks" | "schedules">, stateType: string, actorId: string, byTask?: string): ActorDeletion {
  const cancelled: TaskRecord[] = [];
  for (const task of store.tasks()) {
    if (task.stateType !== stateType || task.actorId !== actorId || isFinal(task) || task.taskId === byTask) continue;
    cancelled.push({ ...task, status: "cancelled" });
  }
  const deletedSchedules: string[] = [];
  for (const schedule of store.schedules()) {
    if (schedule.stateType === stateType && schedule.actorId === actorId) deletedSchedules.push(schedule.scheduleId);
  }
  return { cancelled, deletedSchedules };
}

/** The deletion's part of the commit: the cancelled tasks with their history, the schedules gone. */
export function deletionBatch(deletion: ActorDeletion, now: number): Pick<CommitBatch, "tasks" | "events" | "deletedSchedules"> {
  return {
    tasks: deletion.cancelled,
    events: deletion.cancelled.map((t) => taskEvent(now, t.taskId, "cancelled", "its actor was deleted")),
    deletedSchedules: deletion.deletedSchedules,
  };
}

import { createHash } from "node:crypto";
import { toBinary } from "@bufbuild/protobuf";
import { newTaskId } from "../../api/call-keys.js";
import { NODE_CALL_KEYS } from "../../api/node-call-keys.js";
import type { TaskRecord } from "../../store/store.js";
import type { Call } from "../call.js";
import { activeTraceCarrier } from "../../api/trace-context.js";

/** Task ids sort by creation time (the runtime clock's), so listing tasks lists them in order. */
export { newTaskId };

// Task ids come in three forms, and a caller may choose only the first:
//   fresh        00mwt87qhh-217909e77edb   (time, random)
//   keyed spawn  k-<32 hex>                (from the idempotency key)
//   cron run     00mwt87qhh-c<15 hex>      (from the schedule and due time)
// and, with several partitions, the server's ids carry the partition they
// live on (`p3_…`, src/api/partition.ts), a form reserved too.
// The derived forms are reserved, so nobody can take the id a later keyed
// spawn or cron run will need (and make it fail or be skipped).

/** A spawn with an idempotency key always names the same task. */
export const taskIdForKey = NODE_CALL_KEYS.taskIdForKey;

/**
 * The task a schedule starts for the run due at `due`: deterministic, so a
 * run is never started twice, and sorted by due time like other task ids.
 */
export function scheduledRunTaskId(scheduleId: string, due: number): string {
  const hash = createHash("sha256").update(scheduleId).digest("hex");
  return `${due.toString(36).padStart(10, "0")}-c${hash.slice(0, 15)}`;
}

const DERIVED_TASK_ID = /^(k-|[0-9a-z]{10}-c[0-9a-f]{15}$|p\d+_)/;

/** Whether `id` has a form reserved for ids the server derives (keyed spawns, cron runs). */
export function isReservedTaskId(id: string): boolean {
  return DERIVED_TASK_ID.test(id);
}

/** The id a spawn uses: from its key, or fresh (`now` from the runtime clock). */
export function taskIdFor(key: string | undefined, now: number): string {
  return key === undefined ? newTaskId(now) : taskIdForKey(key);
}

const TASK_ID = /^[A-Za-z0-9_-]{1,128}$/;

export function isValidTaskId(id: string): boolean {
  return TASK_ID.test(id);
}

/**
 * A new task, created at `now` (the runtime clock's time, as every time on a
 * task) by code of `codeVersion`, carrying the active trace context: its runs
 * continue the spawner's trace.
 */
export function newTaskRecord(call: Call, runAt: number | undefined, now: number, codeVersion: string | undefined, taskId?: string): TaskRecord {
  const trace = activeTraceCarrier();
  return {
    taskId: taskId ?? newTaskId(now),
    stateType: call.spec.typeName,
    actorId: call.actorId,
    method: call.method.name,
    request: toBinary(call.method.desc.input, call.request),
    status: "scheduled",
    iteration: 0,
    attempts: 0,
    runAt: runAt ?? now,
    createdAt: now,
    ...(codeVersion !== undefined && { codeVersion }),
    ...(trace && { trace }),
  };
}

/** Whether the task has ended (the store's rule: ended tasks are what retention deletes). */
export { isEnded as isFinal } from "../../store/store.js";

export function toMillis(when: Date | number | undefined): number | undefined {
  return when === undefined ? undefined : typeof when === "number" ? when : when.getTime();
}

import { randomBytes } from "node:crypto";
import { toBinary } from "@bufbuild/protobuf";
import type { TaskRecord } from "../../store/store.js";
import type { Call } from "../runtime.js";

/** Task ids sort by creation time, so listing tasks lists them in order. */
export function newTaskId(now = Date.now()): string {
  return `${now.toString(36).padStart(10, "0")}-${randomBytes(6).toString("hex")}`;
}

export function newTaskRecord(call: Call, runAt: number | undefined): TaskRecord {
  const now = Date.now();
  return {
    taskId: newTaskId(now),
    stateType: call.spec.typeName,
    actorId: call.actorId,
    method: call.method.name,
    request: toBinary(call.method.desc.input, call.request),
    status: "scheduled",
    iteration: 0,
    attempts: 0,
    runAt: runAt ?? now,
    createdAt: now,
  };
}

export function isFinal(task: TaskRecord): boolean {
  return task.status === "completed" || task.status === "aborted" || task.status === "failed";
}

export function toMillis(when: Date | number | undefined): number | undefined {
  return when === undefined ? undefined : typeof when === "number" ? when : when.getTime();
}

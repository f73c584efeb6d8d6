import { fromBinary, type DescMessage, type Message } from "@bufbuild/protobuf";
import type { StoredOutcome, TaskRecord } from "../store/store.js";
import { Aborted, CallCancelled, failedPrecondition, internal } from "../api/errors.js";
import type { MethodSpec } from "../api/spec.js";

/**
 * How a stored outcome becomes a response or a typed error: one rule for
 * replayed idempotent calls and for ended tasks.
 */

/** A stored declared error, thrown again as the method's typed Aborted. */
export function abortedFrom(outcome: Extract<StoredOutcome, { kind: "aborted" }>, errors: readonly DescMessage[], method?: MethodSpec): Error {
  const schema = errors.find((e) => e.typeName === outcome.typeName);
  if (!schema) return internal(`stored error ${outcome.typeName} is no longer declared`);
  const AbortedClass = method?.aborted ?? Aborted;
  return new AbortedClass(fromBinary(schema, outcome.bytes) as never, outcome.message);
}

/** The outcome stored under a key, replayed: the response, or the declared error thrown. */
export function replayed<T>(outcome: StoredOutcome, decode: (bytes: Uint8Array) => T, errors: readonly DescMessage[], method?: MethodSpec): T {
  if (outcome.kind === "response") return decode(outcome.bytes);
  if (outcome.kind === "aborted") throw abortedFrom(outcome, errors, method);
  throw failedPrecondition("idempotency key was used to spawn a task, not for this call");
}

/** What a waiter needs of an ended task (a record here, or one another node sent). */
export type EndedTask = Pick<TaskRecord, "taskId" | "stateType" | "method" | "status" | "outcome" | "lastError">;

/** An ended task as its method's response, or its error thrown. */
export function taskOutcome(task: EndedTask, method: MethodSpec): Message {
  const outcome = task.outcome;
  if (task.status === "completed" && outcome?.kind === "response") return fromBinary(method.desc.output, outcome.bytes);
  if (task.status === "aborted" && outcome?.kind === "aborted") throw abortedFrom(outcome, method.errors, method);
  if (task.status === "cancelled") throw new CallCancelled(`task ${task.taskId} was cancelled`);
  throw internal(`task ${task.taskId} ${task.status}: ${task.lastError ?? "no result"}`);
}

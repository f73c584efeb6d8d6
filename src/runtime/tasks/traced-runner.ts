import { ROOT_CONTEXT } from "@opentelemetry/api";
import type { TaskRecord } from "../../store/store.js";
import { contextOfCarrier } from "../../api/trace-context.js";
import { ATTR, CONSUMER, inSpan } from "../tracing.js";
import type { TaskRunner } from "./task-host.js";

/** Span names, one per (state type, method). */
const NAMES = new Map<string, string>();

function nameOf(task: TaskRecord): string {
  const key = `${task.stateType}/${task.method}`;
  let name = NAMES.get(key);
  if (name === undefined) NAMES.set(key, (name = `run ${key}`));
  return name;
}

function attributesOf(task: TaskRecord) {
  return {
    [ATTR.stateType]: task.stateType,
    [ATTR.actorId]: task.actorId,
    [ATTR.method]: task.method,
    [ATTR.taskId]: task.taskId,
    [ATTR.iteration]: task.iteration,
    [ATTR.attempt]: task.attempts + 1,
  };
}

/**
 * A task runner whose every run is a span continuing the trace of the call
 * that spawned the task (its record keeps that context, so this holds after
 * a restart too); the run's calls and steps are its children. Its outcome
 * is the status the run left the task in.
 */
export function tracedRunner(run: TaskRunner): TaskRunner {
  return (task, control) =>
    inSpan(
      nameOf(task),
      CONSUMER,
      task.trace ? contextOfCarrier(task.trace) : ROOT_CONTEXT,
      attributesOf,
      task,
      (t) => run(t, control),
      // No record: suspended in `until`, or the application stopped; the task is as it was.
      (next) => next?.status ?? "unchanged",
    );
}

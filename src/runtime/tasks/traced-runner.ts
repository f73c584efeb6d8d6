import { ROOT_CONTEXT, trace, type Context, type SpanOptions } from "@opentelemetry/api";
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
 * A `Loop`'s later iterations each start a trace of their own, linked to
 * the spawning call: a control loop running for months must not grow one
 * trace without end.
 */
function placeOf(task: TaskRecord): { options: SpanOptions; parent: Context } {
  if (!task.trace) return { options: CONSUMER, parent: ROOT_CONTEXT };
  const parent = contextOfCarrier(task.trace);
  if (task.iteration === 0) return { options: CONSUMER, parent };
  const spawner = trace.getSpanContext(parent);
  return { options: { ...CONSUMER, root: true, links: spawner ? [{ context: spawner }] : [] }, parent: ROOT_CONTEXT };
}

/**
 * A task runner whose every run is a span continuing the trace of the call
 * that spawned the task (its record keeps that context, so this holds after
 * a restart too); the run's calls and steps are its children. Its outcome
 * is the status the run left the task in.
 */
export function tracedRunner(run: TaskRunner): TaskRunner {
  return (task, control) => {
    const { options, parent } = placeOf(task);
    return inSpan(
      nameOf(task),
      options,
      parent,
      attributesOf,
      task,
      (t) => run(t, control),
      // No record: suspended in `until`, or the application stopped; the task is as it was.
      (next) => next?.status ?? "unchanged",
    );
  };
}

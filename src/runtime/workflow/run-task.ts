import { create, fromBinary, toBinary, type Message } from "@bufbuild/protobuf";
import type { StoredOutcome, TaskRecord } from "../../store/store.js";
import { Cancelled, FatalError, misuseIn } from "../../api/errors.js";
import { declaredOutcome } from "../declared-outcome.js";
import type { Engine } from "../engine.js";
import type { Logger } from "../../api/logger.js";
import { handlerOf } from "../handler.js";
import type { RunControl } from "../tasks/run-control.js";
import { backoff } from "../tasks/retry-policy.js";
import type { TaskRunner } from "../tasks/task-host.js";
import { endOfRun, recordStarted } from "../tasks/task-events.js";
import { deliverCancel, handOver, handOverTarget } from "../task-hand-over.js";
import { Loop } from "./loop.js";
import { Suspended } from "./suspended.js";
import { WorkflowContextImpl } from "./workflow-context.js";

/**
 * Runs a task once (a workflow from the top, or a writer) and returns the
 * record it leaves behind, already durable: ended, looped, or scheduled for
 * a retry. Returns undefined if the application stopped meanwhile: the task
 * stays as it was and resumes on restart. A task cancelled meanwhile ends
 * CANCELLED whatever the run did; one paused meanwhile is left PAUSED
 * rather than re-scheduled.
 */
export async function runTask(runtime: Engine, task: TaskRecord, control: RunControl): Promise<TaskRecord | undefined> {
  const dispatcher = runtime.tasks;
  // Only a run that suspends in awaitRemote again keeps showing a status input.
  if (task.remoteStatusInput !== undefined) {
    const { remoteStatusInput: _shown, ...rest } = task;
    task = rest;
  }
  // Decided at the moment of recording: operators wait for a run that is.
  const settle = (next: TaskRecord): TaskRecord => {
    control.ending = true;
    if (control.cancelled) return { ...task, status: "cancelled" };
    if (control.paused && next.status === "scheduled") return { ...next, status: "paused" };
    return next;
  };
  // The commit recording how the run ended, with its history and progress.
  const record = (next: TaskRecord, tasks = [next]) =>
    runtime.store.commit({ states: [], idempotency: [], tasks, ...endOfRun(runtime, runtime.taskHub, task, next) });
  const ended = async (next: TaskRecord): Promise<TaskRecord> => {
    next = settle(next);
    await record(next);
    return next;
  };
  let next: TaskRecord;
  let ctx: WorkflowContextImpl | undefined;
  const log = runtime.logger.child({ taskId: task.taskId, stateType: task.stateType, actorId: task.actorId, method: task.method });
  log.debug(`run started (iteration ${task.iteration}, attempt ${task.attempts + 1})`);
  recordStarted(runtime, task);
  try {
    const courier = task.handOverCancel;
    if (courier !== undefined) return await ended(await deliverCancel(runtime, { ...task, handOverCancel: courier }));
    const bound = runtime.bound(task.stateType);
    const method = bound.spec.methods[task.method];
    if (!method) throw new FatalError(`${task.stateType} has no method ${task.method} any more`);
    const request = fromBinary(method.desc.input, task.request);
    // A workflow whose actor another node owns runs there (a writer's call is routed as it is).
    const target = method.kind === "workflow" ? handOverTarget(runtime, task) : undefined;
    if (target !== undefined) return await ended(await handOver(runtime, task, target, bound.spec, method, request, control));
    let response: Message;
    if (method.kind === "writer") {
      const call = { spec: bound.spec, method, actorId: task.actorId, request, idempotencyKey: `task:${task.taskId}` };
      response = await runtime.execute(call, { kind: "workflow", internal: true, owner: { taskId: task.taskId, iteration: task.iteration } });
    } else {
      ctx = new WorkflowContextImpl(runtime, bound.spec, method, task, control);
      const result = await handlerOf(bound, method)(ctx, request);
      // A sleep that has not elapsed wins even if its signal was swallowed.
      if (ctx.suspendedUntil !== undefined || ctx.waitingOn) throw new Suspended(ctx.suspendedUntil);
      // No earlier run of this iteration got this far: its last report counts.
      ctx.live();
      if (result instanceof Loop) {
        const runAt = result.when?.getTime() ?? runtime.clock.now();
        next = settle({ ...task, status: "scheduled", iteration: task.iteration + 1, attempts: 0, runAt });
        await record(next);
        return next;
      }
      response = create(method.desc.output, (result ?? {}) as Record<string, unknown>);
    }
    let bytes: Uint8Array;
    try {
      bytes = toBinary(method.desc.output, response);
    } catch (e) {
      throw new FatalError(`the workflow's result is not a valid ${method.desc.output.typeName}: ${String(e)}`);
    }
    const outcome: StoredOutcome = { kind: "response", bytes };
    next = { ...task, status: "completed", outcome };
  } catch (e) {
    if (control.cancelled || e instanceof Cancelled) {
      next = { ...task, status: "cancelled" };
      control.ending = true;
      await record(next);
      return next;
    }
    if (dispatcher.signal.aborted) {
      // The task stays as it was; its newest progress is kept.
      await record(task, []);
      return undefined;
    }
    // Suspended (a durable sleep, a waiting until) is a wait, not a failure:
    // no attempt, no error. The run's record of it counts, whatever the
    // workflow threw. An until-wait alone changes nothing durable: the
    // dispatcher watches what it read; after a restart it runs again.
    const until = ctx?.suspendedUntil;
    if (ctx?.waitingOn) {
      control.waitingOn = ctx.waitingOn;
      if (until === undefined) return undefined;
    }
    if (until !== undefined) {
      next = { ...task, status: "scheduled", runAt: until, ...ctx?.remoteWait };
    } else {
      next = afterError(runtime, task, e);
      logRunError(log, next, e);
    }
  }
  next = settle(next);
  await record(next);
  return next;
}

function afterError(runtime: Engine, task: TaskRecord, e: unknown): TaskRecord {
  const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  const outcome = declaredOutcome(e, runtime.bound(task.stateType).spec.methods[task.method]?.errors ?? []);
  if (outcome) return { ...task, status: "aborted", outcome, lastError: message };
  // A corrupt memo or a bug in the workflow (a misuse, here or in a handler
  // it called) will not heal by retrying.
  if (e instanceof FatalError || misuseIn(e)) return { ...task, status: "failed", lastError: message };
  const attempts = task.attempts + 1;
  const policy = { ...runtime.tasks.retry, ...runtime.bound(task.stateType).retry?.[task.method] };
  return { ...task, status: "scheduled", attempts, runAt: runtime.clock.now() + backoff(policy, attempts), lastError: message };
}

/** A run that threw: a retry is a warning, a failure an error; a declared abort is the workflow's answer. */
function logRunError(log: Logger, next: TaskRecord, e: unknown): void {
  if (next.status === "scheduled") {
    log.warn({ err: e, attempts: next.attempts, retryAt: new Date(next.runAt).toISOString() }, "the run threw: it runs again");
  } else if (next.status === "failed") {
    log.error({ err: e }, "the run threw: the task failed");
  } else if (next.status === "aborted") {
    log.debug({ err: e }, "the task aborted with a declared error");
  }
}

/** The dispatcher's task runner for this engine: workflows (and writers) run as tasks. */
export function workflowRunner(engine: () => Engine): TaskRunner {
  return (task, control) => runTask(engine(), task, control);
}

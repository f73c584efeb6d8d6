import type { Message } from "@bufbuild/protobuf";
import type { TaskRecord } from "../store/store.js";
import { Cancelled, FailedPrecondition, NotFound } from "../api/errors.js";
import type { TaskControl } from "../api/invocation.js";
import type { MethodSpec, StateSpec } from "../api/spec.js";
import type { Engine } from "./engine.js";
import type { RunControl } from "./tasks/run-control.js";

/** A task id's partition mark (`p3_`), which the hand-over's id replaces with the owner's. */
const PARTITION_MARK = /^p\d{1,5}_/;

/**
 * The partition that owns the task's actor when another node hosts it, so
 * a workflow run here could not reach its own state: the task must be
 * handed over (`handOver`). Undefined when it runs here.
 */
export function handOverTarget(engine: Engine, task: TaskRecord): number | undefined {
  const partition = engine.partitionOf(task.stateType, task.actorId);
  if (partition === engine.partition) return undefined;
  return "node" in engine.transactionSide(partition) ? partition : undefined;
}

/**
 * The id of the task a hand-over spawns on `target` for `taskId` of
 * partition `from`: the same every time (a retried hand-over finds the task
 * it made, not a second), marked with the owner's partition, sorting with
 * the original, and unlike any id the owner makes itself (`-h`).
 */
export function handOverId(engine: Engine, taskId: string, from: number, target: number): string {
  return engine.placeTaskId(target, `${bare(taskId)}-h${from}`);
}

/**
 * The id `task` (a task of this partition) is, or will be, handed over
 * under: a workflow whose actor another node owns. Undefined for any other
 * task, and for a type no longer served or a partition no node answers for.
 */
export function handedOverId(engine: Engine, task: TaskRecord): string | undefined {
  if (task.handOverCancel !== undefined) return undefined;
  try {
    if (engine.bound(task.stateType).spec.methods[task.method]?.kind !== "workflow") return undefined;
    const target = handOverTarget(engine, task);
    return target === undefined ? undefined : handOverId(engine, task.taskId, engine.partition, target);
  } catch {
    return undefined;
  }
}

/**
 * Runs a workflow task whose actor another node owns (DESIGN.md §9): a
 * writer or transaction here scheduled it, so its record was part of that
 * atomic commit; now it is spawned on the owner under `handOverId` and
 * awaited, and the record here ends as that task ended. Every step may be
 * retried (after a crash here or there, a node that was down): the spawn
 * finds the task it made. An operator's pause, resume or cancel of the
 * original reaches the task there (`controlHandedOver`, `cancelCourier`).
 */
export async function handOver(
  engine: Engine,
  task: TaskRecord,
  target: number,
  spec: StateSpec,
  method: MethodSpec,
  request: Message,
  control: RunControl,
): Promise<TaskRecord> {
  const remoteId = handOverId(engine, task.taskId, engine.partition, target);
  // Test-only (CAIRN_TEST_CRASH_AT): a crash between the scheduling commit and the hand-over.
  const here = engine.transactionSide(engine.partition);
  if ("testPoint" in here) here.testPoint("before-hand-over");
  const call = { spec, method, actorId: task.actorId, request, signal: control.signal };
  try {
    await engine.spawn(call, undefined, remoteId, { kind: "workflow", internal: true });
    // Paused while the spawn was on its way (the operator's pause found no task there yet).
    if (control.paused) await controlThere(engine, remoteId, "pause");
    // Waiting holds no run slot: the task runs there. Its progress shows here too, under the original id.
    const ended = await engine.tasks.blockedOn(engine.waitFinal(remoteId, control.signal, (p) => engine.taskHub.report(task.taskId, p)));
    const { outcome, lastError } = ended;
    return { ...task, status: ended.status, ...(outcome && { outcome }), ...(lastError !== undefined && { lastError }) };
  } catch (e) {
    if (control.cancelled) {
      // The spawn may have landed after the courier found nothing there.
      await controlThere(engine, remoteId, "cancel").catch((err: unknown) => logUndelivered(engine, task.taskId, remoteId, err));
      throw new Cancelled(task.taskId);
    }
    throw e;
  }
}

/**
 * An operator pauses or resumes `task` here: the task it was handed over
 * to is paused or resumed first, so the original's record never says more
 * than what runs. Rejects (UNAVAILABLE, the owner node down) and nothing
 * changes if it cannot be reached; a task not handed over yet (not due),
 * or ended there, needs nothing (the run here checks a pause after its spawn).
 */
export async function controlHandedOver(engine: Engine, task: TaskRecord, action: "pause" | "resume"): Promise<void> {
  // Not due yet and never run (a retry counts an attempt): not handed over, so the owner need not be up.
  if (task.runAt > engine.clock.now() && task.attempts === 0 && !engine.tasks.isRunning(task.taskId)) return;
  const remoteId = handedOverId(engine, task);
  if (remoteId !== undefined) await controlThere(engine, remoteId, action);
}

/**
 * The courier an operator's cancel of `task` stores in the same commit: a
 * task of this partition that cancels the handed-over task (`deliverCancel`),
 * retried on the task backoff until the owner node answers, also across a
 * restart of this node. Undefined for a task that is not handed over.
 */
export function cancelCourier(engine: Engine, task: TaskRecord): TaskRecord | undefined {
  const remoteId = handedOverId(engine, task);
  if (remoteId === undefined) return undefined;
  const now = engine.clock.now();
  const { outcome: _o, lastError: _e, scheduleId: _s, remoteStatusInput: _r, ...call } = task;
  const taskId = engine.placeTaskId(engine.partition, `${bare(task.taskId)}-c`);
  return { ...call, taskId, status: "scheduled", iteration: 0, attempts: 0, runAt: now, createdAt: now, handOverCancel: remoteId };
}

/** A courier's run: the cancel reached the task there (or it had ended, or was never made); throws to be retried. */
export async function deliverCancel(engine: Engine, courier: TaskRecord & { handOverCancel: string }): Promise<TaskRecord> {
  await controlThere(engine, courier.handOverCancel, "cancel");
  return { ...courier, status: "completed" };
}

/** Acts on the handed-over task; one that has ended, or was never made, needs nothing. */
async function controlThere(engine: Engine, remoteId: string, action: TaskControl): Promise<void> {
  try {
    await engine.controlTask(remoteId, action);
  } catch (err) {
    if (err instanceof FailedPrecondition || err instanceof NotFound) return;
    throw err;
  }
}

function logUndelivered(engine: Engine, taskId: string, remoteId: string, err: unknown): void {
  engine.logger.warn({ taskId, handedOverTo: remoteId, err }, "cancelled here; the cancel courier goes on telling the task it was handed over to");
}

function bare(taskId: string): string {
  return taskId.replace(PARTITION_MARK, "");
}

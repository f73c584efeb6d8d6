import type { Message } from "@bufbuild/protobuf";
import type { TaskRecord } from "../store/store.js";
import { Cancelled, FailedPrecondition, NotFound } from "../api/errors.js";
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
  return engine.placeTaskId(target, `${taskId.replace(PARTITION_MARK, "")}-h${from}`);
}

/**
 * Runs a workflow task whose actor another node owns (DESIGN.md §9): a
 * writer or transaction here scheduled it, so its record was part of that
 * atomic commit; now it is spawned on the owner under `handOverId` and
 * awaited, and the record here ends as that task ended. Every step may be
 * retried (after a crash here or there, a node that was down): the spawn
 * finds the task it made. A cancel here reaches the task there.
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
    // Waiting holds no run slot: the task runs there.
    const ended = await engine.tasks.blockedOn(engine.waitFinal(remoteId, control.signal));
    const { outcome, lastError } = ended;
    return { ...task, status: ended.status, ...(outcome && { outcome }), ...(lastError !== undefined && { lastError }) };
  } catch (e) {
    if (control.cancelled) {
      await cancelThere(engine, task.taskId, remoteId);
      throw new Cancelled(task.taskId);
    }
    throw e;
  }
}

/**
 * A task cancelled here while no run of it was waiting on its hand-over
 * (between retries, say): the task it may have been handed over to is
 * cancelled too, in the background. Nothing for any other task.
 */
export function cancelHandedOver(engine: Engine, task: TaskRecord): void {
  let target: number | undefined;
  try {
    if (engine.bound(task.stateType).spec.methods[task.method]?.kind !== "workflow") return;
    target = handOverTarget(engine, task);
  } catch {
    return; // a type no longer served, no node to reach: nothing to tell
  }
  if (target === undefined) return;
  void cancelThere(engine, task.taskId, handOverId(engine, task.taskId, engine.partition, target));
}

/**
 * Cancels the handed-over task; one that has ended, or was never made,
 * needs nothing. Never rejects: the original is cancelled whatever happens
 * here, and a cancel that could not reach the other node is logged.
 */
async function cancelThere(engine: Engine, taskId: string, remoteId: string): Promise<void> {
  try {
    await engine.controlTask(remoteId, "cancel");
  } catch (err) {
    if (err instanceof FailedPrecondition || err instanceof NotFound) return;
    engine.logger.warn({ taskId, handedOverTo: remoteId, err }, "cancelled here, but the cancel did not reach the task it was handed over to");
  }
}

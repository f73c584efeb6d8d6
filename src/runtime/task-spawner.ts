import type { ScheduleRecord, Store, TaskRecord } from "../store/store.js";
import type { ActorStates } from "./actor-states.js";
import type { Bound, Call, Caller } from "./call.js";
import type { Clock } from "./clock.js";
import { failedPrecondition, invalidArgument } from "../api/errors.js";
import type { Gatekeeper } from "./gatekeeper.js";
import { hashRequest, type CallIdentity } from "./idempotency.js";
import { outcomeRecord, type IdempotencyTable, type Keyed } from "./idempotency-table.js";
import type { CronTiming } from "../api/invocation.js";
import { defineSchedule } from "./tasks/schedules.js";
import { spawnedEvents } from "./tasks/task-events.js";
import { isReservedTaskId, isValidTaskId, newTaskId, newTaskRecord, taskIdForKey } from "./tasks/task-record.js";

/** What spawning needs of the runtime around it. */
export interface SpawnerParts {
  readonly store: Store;
  readonly clock: Clock;
  readonly states: ActorStates;
  readonly table: IdempotencyTable;
  readonly gatekeeper: Gatekeeper;
  /** The application's code version, stamped on every task it creates. */
  readonly codeVersion: string | undefined;
  /** The servicer of a call whose actor id is valid. */
  validate(call: Call): Bound;
  /** Marks an id the server makes with this partition (DESIGN.md §9). */
  markId(id: string): string;
}

/**
 * Creates tasks: durably on their own (a spawn, at most once per key), or
 * as records a writer or transaction commits with its state (`schedule`).
 */
export class TaskSpawner {
  constructor(private readonly parts: SpawnerParts) {}

  /**
   * Durably creates a task for a workflow (or writer) call; returns its id.
   * The id comes from the idempotency key, or the caller, or is fresh; a
   * second spawn of the same call under the same id is a replay.
   */
  async spawn(call: Call, runAt: number | undefined, proposedId: string | undefined, caller: Caller): Promise<string> {
    const { store, clock, states, table, gatekeeper } = this.parts;
    const bound = this.parts.validate(call);
    await gatekeeper.authorize(bound, call, caller);
    if (call.method.kind !== "workflow" && call.method.kind !== "writer") {
      throw invalidArgument(`${call.method.name} is a ${call.method.kind}; only workflows and writers run as tasks`);
    }
    const key = call.idempotencyKey;
    // With a key, the id is the key's: whatever the caller proposed is moot.
    // Ids proposed inside the application (a workflow's spawn) are the server's own.
    if (key === undefined && proposedId !== undefined && !caller.internal) checkProposedTaskId(proposedId);
    if (call.method.kind === "workflow" && !call.spec.defaultConstructible) {
      await states.readState(call.spec, call.actorId); // NOT_FOUND before anything is stored
    }
    const task = newTaskRecord(call, runAt, clock.now(), this.parts.codeVersion, key !== undefined ? taskIdForKey(key) : (proposedId ?? this.parts.markId(newTaskId(clock.now()))));
    const existing = store.getTask(task.taskId);
    if (existing) {
      const same = existing.stateType === task.stateType && existing.actorId === task.actorId &&
        existing.method === task.method && Buffer.compare(existing.request, task.request) === 0;
      if (!same) throw failedPrecondition(`task id ${JSON.stringify(task.taskId)} is taken by another call`);
      return existing.taskId;
    }
    const commit = async (keyed?: Keyed) => {
      const idempotency = outcomeRecord(keyed, { kind: "task", taskId: task.taskId });
      await store.commit({ states: [], idempotency, tasks: [task], events: spawnedEvents([task]) });
      states.committed({ tasks: [task], schedules: [] });
      return task.taskId;
    };
    if (key === undefined) return commit();
    const identity: CallIdentity = {
      stateType: call.spec.typeName,
      actorId: call.actorId,
      method: call.method.name,
      requestHash: hashRequest(task.request),
    };
    return table.once(
      key,
      identity,
      (outcome) => {
        if (outcome.kind !== "task") throw failedPrecondition(`idempotency key ${JSON.stringify(key)} was not used to start a task`);
        return outcome.taskId;
      },
      commit,
      caller.owner,
    );
  }

  /** A task for a writer or transaction to include in its commit. */
  scheduledTask(call: Call, runAt: number | undefined): TaskRecord {
    this.parts.validate(call);
    const now = this.parts.clock.now();
    return newTaskRecord(call, runAt, now, this.parts.codeVersion, this.parts.markId(newTaskId(now)));
  }

  /** A cron schedule for a writer or transaction to include in its commit. */
  cronSchedule(call: Call, timing: CronTiming): { scheduleId: string; record?: ScheduleRecord } {
    this.parts.validate(call);
    return defineSchedule(this.parts, call, timing);
  }
}

/** A task id a caller chose: well formed, and not one the server derives. */
function checkProposedTaskId(id: string): void {
  if (!isValidTaskId(id)) throw invalidArgument(`task id ${JSON.stringify(id)} is not 1-128 letters, digits, '-' or '_'`);
  if (isReservedTaskId(id)) {
    throw invalidArgument(
      `task id ${JSON.stringify(id)} has a reserved form (k-…: keyed spawns; …-c…: cron runs; p<digits>_…: partitions); ` +
        "send an idempotency key instead, or let the server choose",
    );
  }
}

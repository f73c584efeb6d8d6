import type { Message } from "@bufbuild/protobuf";
import type { KeyOwner, ScheduleRecord, Store, TaskProgressRecord, TaskRecord } from "../store/store.js";
import type { TokenVerifier } from "./authorization.js";
import type { ActorStates } from "./actor-states.js";
import type { ActorDeletion, Bound, Call, Caller, Mutation, WriteEffects } from "./call.js";
import type { Clock } from "./clock.js";
import { contextFor } from "./context-impl.js";
import type { Engine, ReaderWatches } from "./engine.js";
import { unimplemented } from "../api/errors.js";
import { Gatekeeper } from "./gatekeeper.js";
import { runReader } from "./handler.js";
import { IdempotencyTable } from "./idempotency-table.js";
import type { CronTiming, TaskControl } from "../api/invocation.js";
import { validateActorId } from "../api/actor-id.js";
import { bindServicers, type ServicerClass } from "./servicer.js";
import type { StateSpec } from "../api/spec.js";
import type { StoreHealth } from "./store-health.js";
import { taskOutcome, type EndedTask } from "./task-outcome.js";
import { TaskSpawner } from "./task-spawner.js";
import type { Dispatcher } from "./tasks/dispatcher.js";
import type { TaskHub } from "./tasks/progress.js";
import type { RetryPolicy } from "./tasks/retry-policy.js";
import { CallTelemetry } from "./call-telemetry.js";
import type { RuntimeMetrics } from "./metrics.js";
import type { CronSchedules } from "./tasks/schedules.js";
import { transact } from "./transact.js";
import type { Watchers } from "./watchers.js";
import type { Logger } from "../api/logger.js";
import type { Placement } from "./partitions.js";
import { Routing } from "./routing.js";
import { Writers, deletionMutation, writerMutation } from "./writers.js";
import type { LocalTransactionSide } from "./local-transaction-side.js";
import { remoteTransactionSide, type RemoteTransactionSide } from "./transaction-side.js";

// Moved to call.ts; re-exported for the transport's imports.
export type { Bound, Call, Mutation, WriteEffects } from "./call.js";

export interface RuntimeOptions {
  /** Verifies external callers' bearer tokens into claims. */
  tokenVerifier?: TokenVerifier;
  /** Allows external calls to servicers without an authorizer. Never in production. */
  insecureDevelopmentMode?: boolean;
  /** Decoded actor states kept in memory (LRU). */
  maxCachedActors?: number;
  /** Default workflow retry policy. */
  retry?: Partial<RetryPolicy>;
  /** Task runs at once; more due tasks queue. Default 1,000. */
  maxRunningTasks?: number;
  /** Time for task timers, Loop, sleep, backoff and cron; tests pass an AdjustableClock. */
  clock?: Clock;
  /** The code version this process runs, recorded on the tasks it creates. */
  codeVersion?: string;
  /** Its partition, with the others (absent: the only one, and nothing is routed). */
  placement?: Placement<Runtime>;
}

/**
 * The parts a runtime works with, built and wired by the composition root
 * (src/server/create-runtime.ts): it owns none of their lifecycles but stop.
 */
export interface RuntimeParts {
  /** The store; its commits report to `health` and fail as StoreUnavailable. */
  readonly store: Store;
  /** Whether the store takes writes (readiness), and who is told when it does again. */
  readonly health: StoreHealth;
  readonly clock: Clock;
  readonly watchers: Watchers;
  readonly states: ActorStates;
  readonly tasks: Dispatcher;
  readonly taskHub: TaskHub;
  readonly schedules: CronSchedules;
  readonly readerWatches: ReaderWatches;
  readonly logger: Logger;
  /** The runtime's metric instruments (made by the composition root, with the meter provider of the time). */
  readonly metrics: RuntimeMetrics;
  /** This partition's side of transactions: its prepared records (participant) and decisions (coordinator). */
  readonly transactions: LocalTransactionSide;
}

// The parts are the runtime's own fields: listed once, in RuntimeParts.
export interface Runtime extends RuntimeParts {}

/**
 * Executes calls on actors: finds the servicer, has the gatekeeper check
 * external callers, and dispatches by method kind: readers on the last
 * durable snapshot, writers through the writer runner, transactions
 * through their retry loop, workflows as tasks.
 */
export class Runtime implements Engine {
  readonly #bound: ReadonlyMap<string, Bound>;
  readonly #table: IdempotencyTable;
  readonly #writers: Writers;
  readonly #spawner: TaskSpawner;
  readonly #telemetry: CallTelemetry;
  /** Where actors and tasks are answered (routing.ts). */
  readonly routing: Routing<Runtime>;
  readonly gatekeeper: Gatekeeper;

  constructor(parts: RuntimeParts, servicers: readonly ServicerClass[], options: RuntimeOptions = {}) {
    Object.assign(this, parts);
    this.#telemetry = new CallTelemetry(this.metrics);
    this.routing = new Routing<Runtime>(this, options.placement);
    this.#bound = bindServicers(servicers, this.logger);
    this.#table = new IdempotencyTable(this.store);
    this.gatekeeper = new Gatekeeper(options, (t) => this.bound(t), (spec, actorId) => this.routing.here(spec.typeName, actorId, "authorize").states.visibleOf(spec, actorId));
    this.#writers = new Writers(this.states, this.store, this.#table, this.clock, this.tasks);
    this.#spawner = new TaskSpawner({
      store: this.store,
      clock: this.clock,
      states: this.states,
      table: this.#table,
      gatekeeper: this.gatekeeper,
      codeVersion: options.codeVersion,
      markId: (id) => this.placeTaskId(this.partition, id),
      validate: (call) => this.validate(call),
    });
  }

  get specs(): StateSpec[] {
    return [...this.#bound.values()].map((b) => b.spec);
  }

  get cachedActors(): number {
    return this.states.cachedActors;
  }

  bound(typeName: string): Bound {
    const bound = this.#bound.get(typeName);
    if (!bound) throw unimplemented(`this application serves no ${typeName}`);
    return bound;
  }

  /** The servicer of a call whose actor id is valid. */
  validate(call: Call): Bound {
    validateActorId(call.actorId);
    return this.bound(call.spec.typeName);
  }

  // Routing among partitions and nodes (DESIGN.md §9, routing.ts): without a placement, all is here.
  get partition(): number {
    return this.routing.partition;
  }
  partitionOf(stateType: string, actorId: string): number {
    return this.routing.partitionOf(stateType, actorId);
  }
  transactionSide(partition: number): LocalTransactionSide | RemoteTransactionSide {
    if (partition === this.partition) return this.transactions;
    return this.routing.hostHere(partition)?.transactions ?? remoteTransactionSide(partition, this.routing.remote(partition).transactions);
  }
  placeTaskId(partition: number, id: string): string {
    return this.routing.placeTaskId(partition, id);
  }

  /** Runs a call on its actor's partition, observed (its span and metrics): see `CallTelemetry`. */
  execute(call: Call, caller: Caller): Promise<Message> {
    const owner = this.routing.owner(call.spec.typeName, call.actorId);
    if (owner !== this) return owner.execute(call, caller);
    return this.#telemetry.observe(call, caller, this.#dispatch);
  }

  // Not async: a reader's or writer's promise is its runner's own (no wrapping promise and ticks per call).
  readonly #dispatch = (call: Call, caller: Caller): Promise<Message> => {
    const bound = this.validate(call);
    // Calls from inside the application, and plainly allowed ones, have no await on their path.
    if (this.gatekeeper.allowsAtOnce(bound, call, caller)) return this.#run(bound, call, caller);
    return this.gatekeeper.authorize(bound, call, caller).then(() => this.#run(bound, call, caller));
  };

  #run(bound: Bound, call: Call, caller: Caller): Promise<Message> {
    switch (call.method.kind) {
      case "reader":
        return runReader(bound, call, contextFor(this, "reader", call, caller), this.readState(bound.spec, call.actorId));
      case "writer":
        return this.mutate(bound.spec, call.actorId, writerMutation(bound, call, this, caller), call.idempotencyKey, caller.owner);
      case "transaction":
        return transact(this, this.#table, bound, call, caller);
      case "workflow": // A direct call spawns the workflow and waits for its outcome.
        return this.#spawner.spawn(call, undefined, undefined, { kind: caller.kind, internal: true, owner: caller.owner }).then((id) => this.waitTask(id, call.method, call.signal));
    }
  }

  mutate<T>(spec: StateSpec, actorId: string, mutation: Mutation<T>, key: string | undefined, owner?: KeyOwner): Promise<T> {
    return this.routing.here(spec.typeName, actorId, mutation.method).#writers.mutate(spec, actorId, mutation, key, owner);
  }

  readState(spec: StateSpec, actorId: string): Message | Promise<Message> {
    return this.routing.here(spec.typeName, actorId, "state.read").states.readState(spec, actorId);
  }

  durableVersion(key: string, seen?: number): number {
    if (!this.routing.routed) return this.states.durableVersion(key);
    const [stateType, actorId] = key.split("\u0000") as [string, string];
    const owner = this.routing.owner(stateType, actorId);
    return owner instanceof Runtime ? owner.states.durableVersion(key) : owner.durableVersion(key, seen);
  }

  spawn(call: Call, runAt: number | undefined, proposedId: string | undefined, caller: Caller): Promise<string> {
    const owner = this.routing.owner(call.spec.typeName, call.actorId);
    if (owner !== this) return owner.spawn(call, runAt, proposedId, caller);
    // Under the spawn's span, so the task record carries its trace context.
    return this.#telemetry.observe(call, caller, (c, by) => this.#spawner.spawn(c, runAt, proposedId, by), true);
  }

  scheduledTask(call: Call, runAt: number | undefined): TaskRecord {
    return this.#spawner.scheduledTask(call, runAt);
  }

  cronSchedule(call: Call, timing: CronTiming): { scheduleId: string; record?: ScheduleRecord } {
    return this.#spawner.cronSchedule(call, timing);
  }

  /** Waits for a task to end; its response, or its declared error thrown. */
  async waitTask(taskId: string, method: Call["method"], signal?: AbortSignal): Promise<Message> {
    return taskOutcome(await this.waitFinal(taskId, signal), method);
  }

  waitFinal(taskId: string, signal?: AbortSignal, onProgress?: (progress: TaskProgressRecord) => void): Promise<EndedTask> {
    return this.routing.waitFinal(taskId, signal, onProgress);
  }
  controlTask(taskId: string, action: TaskControl): Promise<void> {
    return this.routing.controlTask(taskId, action);
  }

  /**
   * Deletes an actor for an operator (Actors.Delete), as a writer calling
   * `ctx.deleteActor()` would; NOT_FOUND if it does not exist.
   */
  async deleteActor(spec: StateSpec, actorId: string): Promise<ActorDeletion> {
    let effects: WriteEffects | undefined;
    await this.routing.here(spec.typeName, actorId, "Actors.Delete").#writers.mutate(spec, actorId, deletionMutation((e) => (effects = e)), undefined);
    return effects?.deleted ?? { cancelled: [], deletedSchedules: [] };
  }

  async start(): Promise<void> {
    this.tasks.recover();
    this.schedules.recover();
    this.transactions.resume(); // every hosted partition re-locked its prepared actors when built
  }

  /** Stops; running tasks get up to `graceMs` to reach a durable step. */
  async stop(graceMs: number): Promise<void> {
    this.health.stop();
    this.metrics.stop();
    this.transactions.stop();
    await this.schedules.stop();
    await this.tasks.stop(graceMs);
  }
}

import type { Message } from "@bufbuild/protobuf";
import type { KeyOwner, ScheduleRecord, Store, TaskProgressRecord, TaskRecord } from "../store/store.js";
import type { ActorStates } from "./actor-states.js";
import type { Bound, Call, Caller, Mutation } from "./call.js";
import type { Clock } from "./clock.js";
import type { CronTiming, TaskControl } from "../api/invocation.js";
import type { EndedTask } from "./task-outcome.js";
import type { StateSpec } from "../api/spec.js";
import type { Dispatcher } from "./tasks/dispatcher.js";
import type { TaskHub } from "./tasks/progress.js";
import type { Watchers } from "./watchers.js";
import type { Logger } from "../api/logger.js";
import type { RemoteTransactionSide, TransactionSide } from "./transaction-side.js";

/** Where a watch subscription hands its responses (see `SharedWatches.open`). */
export interface ResponseSink {
  /** Takes the newest response; false if it can take no more until `ready()`. */
  push(bytes: Uint8Array): boolean;
  /** The watch failed (the reader threw): nothing more comes. */
  fail(error: unknown): void;
}

/** One subscriber of a reactive reader. */
export interface Subscription {
  /** The sink can take responses again. */
  ready(): void;
  /** Frees the subscription (idempotent). */
  close(): void;
}

/** The reactive readers: one re-run per (actor, reader, request), shared by every subscriber. */
export interface ReaderWatches {
  /**
   * Checks `call` as a call by `caller`, then subscribes `sink`;
   * `connection`: the socket or HTTP/2 session the sink writes to, if shared.
   */
  open(call: Call, caller: Caller, sink: ResponseSink, connection?: object): Promise<Subscription>;
}

/**
 * The engine port: what contexts, transactions, reactive readers and the
 * workflow runner may ask of the runtime. They take this, never `Runtime`,
 * so the runtime's parts depend on a small surface, not on each other.
 */
export interface Engine {
  readonly clock: Clock;
  readonly store: Store;
  readonly watchers: Watchers;
  readonly tasks: Dispatcher;
  readonly taskHub: TaskHub;
  readonly readerWatches: ReaderWatches;
  /** The application's logger; calls and tasks log through children binding their fields. */
  readonly logger: Logger;
  /** Actor states and the commit path (transactions hold several actors). */
  readonly states: ActorStates;
  /** Runs a call: authorizes external callers, then dispatches by method kind. */
  execute(call: Call, caller: Caller): Promise<Message>;
  /** Runs a mutation on an actor, once per idempotency key if one is given. */
  /** `owner`: the workflow run issuing the key, whose record retention keeps while it runs. */
  mutate<T>(spec: StateSpec, actorId: string, mutation: Mutation<T>, key: string | undefined, owner?: KeyOwner): Promise<T>;
  /** Durably creates a task for a workflow (or writer) call; returns its id. */
  spawn(call: Call, runAt: number | undefined, proposedId: string | undefined, caller: Caller): Promise<string>;
  /** The state a reader sees (ActorStates.readState), recorded for `until`; NOT_FOUND if absent. */
  readState(spec: StateSpec, actorId: string): Message | Promise<Message>;
  /**
   * Durable version of an actor key (0: absent), without loading its state;
   * `seen`: the version a waiter read, for an actor another node owns.
   */
  durableVersion(key: string, seen?: number): number;
  /** The servicer of a state type; UNIMPLEMENTED if none. */
  bound(typeName: string): Bound;
  /** The servicer of a call whose actor id is valid. */
  validate(call: Call): Bound;
  /** A task for a writer or transaction to include in its commit. */
  scheduledTask(call: Call, runAt: number | undefined): TaskRecord;
  /** A cron schedule for a writer or transaction to include in its commit. */
  cronSchedule(call: Call, timing: CronTiming): { scheduleId: string; record?: ScheduleRecord };
  /** The partition this engine hosts (0 when there is one). */
  readonly partition: number;
  /** The partition of an actor (0 when there is one). */
  partitionOf(stateType: string, actorId: string): number;
  /**
   * Waits for a task to end wherever it lives (here, or on the node that
   * holds it); `onProgress` hears each newer progress of one another node holds.
   */
  waitFinal(taskId: string, signal?: AbortSignal, onProgress?: (progress: TaskProgressRecord) => void): Promise<EndedTask>;
  /** Cancels, pauses or resumes a task wherever it lives. */
  controlTask(taskId: string, action: TaskControl): Promise<void>;
  /**
   * What a partition offers transactions: for one hosted here its actors'
   * locks and drafts and its two-phase commit roles; for one another node
   * hosts, the peer calls that run a transaction's calls there.
   */
  transactionSide(partition: number): TransactionSide | RemoteTransactionSide;
  /** `id` marked as a task id of `partition` (unchanged when there is one). */
  placeTaskId(partition: number, id: string): string;
}

import type { DescMessage, Message } from "@bufbuild/protobuf";
import type { Authorizer } from "./authorization.js";
import type { Context } from "./context.js";
import type { MethodSpec, StateSpec } from "../api/spec.js";
import type { KeyOwner, ScheduleRecord, TaskRecord } from "../store/store.js";
import type { RetryPolicy } from "./tasks/retry-policy.js";
import type { Logger } from "../api/logger.js";
import type { TraceCarrier } from "../api/trace-context.js";

/** A call as the runtime executes it: the key is already derived. */
export interface Call {
  readonly spec: StateSpec;
  readonly method: MethodSpec;
  readonly actorId: string;
  readonly request: Message;
  readonly idempotencyKey?: string;
  /** Fires when the caller goes away (a client closed the request): stop waiting for it. */
  readonly signal?: AbortSignal;
}

/** Who is calling: a client over the network, or a handler in this process. */
export interface Caller {
  readonly kind: Context["kind"];
  readonly internal: boolean;
  /** An external caller's bearer token, unverified. */
  readonly bearerToken?: string;
  /** An external caller's trace context (from its request headers): the parent of the call's span. */
  readonly trace?: TraceCarrier;
  /**
   * The task run making the call (a workflow, or a writer run as a task):
   * its keyed calls' records are kept while it runs, and deleting its actor
   * does not cancel it.
   */
  readonly owner?: KeyOwner;
}

export const EXTERNAL_CALLER: Caller = { kind: "external", internal: false };

/** What a mutation may add to its commit besides the new state. */
export interface WriteEffects {
  readonly scheduled: TaskRecord[];
  /** Cron schedules (`ref.schedule({ cron })`). */
  schedules?: ScheduleRecord[];
  /**
   * `ctx.deleteActor()`: "allowed" where the writer runs alone on its actor
   * (not inside a transaction), "requested" once the handler asked.
   */
  deletion?: "allowed" | "requested";
  /** Set by the writer runner when it deletes the actor: what went with it. */
  deleted?: ActorDeletion;
}

/** What went with a deleted actor in its commit (actor-deletion.ts). */
export interface ActorDeletion {
  /** Its tasks that had not ended, now CANCELLED. */
  readonly cancelled: readonly TaskRecord[];
  /** Its cron schedules, now deleted. */
  readonly deletedSchedules: readonly string[];
}

/**
 * One state change on one actor: a writer method, or a workflow's inline
 * `state.write`. `apply` mutates the draft and returns the result; `encode`
 * gives its bytes (stored under the idempotency key) and `decode` reads
 * them back. The request's and result's bytes are asked for only under a
 * key: a call without one encodes neither.
 */
export interface Mutation<T> {
  readonly method: string;
  readonly isConstructor: boolean;
  /** The request's bytes, for the idempotency key's request hash. */
  requestBytes(): Uint8Array;
  apply(draft: Message, effects: WriteEffects): Promise<T>;
  encode(value: T): Uint8Array;
  /** The task whose run makes this call: deleting the actor does not cancel it. */
  readonly byTask?: string;
  decode(bytes: Uint8Array): T;
  /** Declared errors, stored as results under the key. */
  readonly errors: readonly DescMessage[];
}

/** A state type as the application serves it: its spec, servicer instance and rules. */
export interface Bound {
  readonly spec: StateSpec;
  /** The user's servicer instance (a `Servicer` subclass). */
  readonly servicer: object;
  readonly authorizer: Authorizer | undefined;
  /** Per workflow method: retry backoff overriding the application's. */
  readonly retry: Readonly<Record<string, Partial<RetryPolicy>>> | undefined;
  /** The application's logger with this state type bound (`stateType`). */
  readonly logger: Logger;
}

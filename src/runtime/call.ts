import type { DescMessage, Message } from "@bufbuild/protobuf";
import type { Authorizer } from "./authorization.js";
import type { Context } from "./context.js";
import type { MethodSpec, StateSpec } from "../api/spec.js";
import type { KeyOwner, ScheduleRecord, TaskRecord } from "../store/store.js";
import type { RetryPolicy } from "./tasks/retry-policy.js";

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
  /** The workflow run making the call: its keyed calls' records are kept while it runs. */
  readonly owner?: KeyOwner;
}

export const EXTERNAL_CALLER: Caller = { kind: "external", internal: false };

/** What a mutation may add to its commit besides the new state. */
export interface WriteEffects {
  readonly scheduled: TaskRecord[];
  /** Cron schedules (`ref.schedule({ cron })`). */
  schedules?: ScheduleRecord[];
}

/**
 * One state change on one actor: a writer method, or a workflow's inline
 * `state.write`. `apply` mutates the draft and returns the result and its
 * bytes (stored under the idempotency key); `decode` reads them back.
 */
export interface Mutation<T> {
  readonly method: string;
  readonly isConstructor: boolean;
  readonly requestBytes: Uint8Array;
  apply(draft: Message, effects: WriteEffects): Promise<{ value: T; bytes: Uint8Array }>;
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
}

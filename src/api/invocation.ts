import type { Message } from "@bufbuild/protobuf";
import type { MethodSpec, StateSpec } from "./spec.js";

/** How a call chooses its idempotency key (DESIGN.md §4). */
export type IdempotencyChoice =
  | { readonly kind: "unset" }
  | { readonly kind: "none" }
  | { readonly kind: "alias"; readonly alias: string }
  | { readonly kind: "key"; readonly key: string };

/** One call of one method on one actor, as a ref hands it to a context. */
export interface Invocation {
  readonly spec: StateSpec;
  readonly method: MethodSpec;
  readonly actorId: string;
  readonly request: Message;
  readonly idempotency: IdempotencyChoice;
}

/**
 * When a spawned or scheduled task may first run: once (`when`, default
 * now), or, for `ref.schedule()` of a workflow, at every time a cron
 * expression matches.
 */
export type TaskTiming = OnceTiming | CronTiming;

export interface OnceTiming {
  readonly when?: Date | number;
  readonly cron?: undefined;
}

/**
 * A cron schedule (`ref.schedule({ cron })`, workflows only): "0 9 * * MON",
 * five fields, or six with seconds first. A run due while the previous one
 * has not ended is skipped; runs missed while the server was down are
 * caught up with one run at most.
 */
export interface CronTiming {
  readonly cron: string;
  /** IANA zone the expression is read in, e.g. "Europe/Paris". Default UTC. */
  readonly timezone?: string;
  /** The schedule id; default derived from the target, method, cron and zone, so re-scheduling is idempotent. */
  readonly id?: string;
  readonly when?: undefined;
}

/** What an operator may do to a running or waiting task. */
export type TaskControl = "cancel" | "pause" | "resume";

/** Symbol under which every context carries the means to call methods. */
export const INVOKE: unique symbol = Symbol("cairn.invoke");

/** What a context does with the calls made through refs. */
export interface Invoker {
  invoke(invocation: Invocation): Promise<Message>;
  /**
   * Starts a task. Its id is chosen at once (from the idempotency key when
   * there is one), so a handle exists before the server answers; `started`
   * settles once the task is durable, or with why it could not start.
   */
  spawn(invocation: Invocation, timing: TaskTiming): { taskId: string; started: Promise<void> };
  /** Adds a task to the caller's own commit; it exists only if that commits. */
  schedule(invocation: Invocation, timing: TaskTiming): string;
  /** Waits for a task to end. */
  wait(taskId: string, method: MethodSpec): Promise<Message>;
  /** Cancels, pauses or resumes a task (`cairn.v1.Tasks`). */
  control(taskId: string, action: TaskControl): Promise<void>;
  /** A reader's response now and after each change of what it read. */
  watch(invocation: Invocation, signal?: AbortSignal): AsyncIterable<Message>;
}

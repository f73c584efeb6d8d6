import type { Context } from "../api/context.js";
import type { TaskProgressReport } from "./tasks/progress.js";

export type { Context };

/** What every handler's context knows about the call it serves. */
export interface ActorContext extends Context {
  /** Fully qualified state type name, e.g. "bank.v1.Account". */
  readonly stateType: string;
  /** The id of the actor this call runs on. */
  readonly actorId: string;
  /** The local method name, e.g. "withdraw". */
  readonly method: string;
  /** Whether the call came from inside this application (not a client). */
  readonly internal: boolean;
}

/** A reader runs on the last durable state; it can only read. */
export interface ReaderContext extends ActorContext {
  readonly kind: "reader";
}

/** A writer runs alone on its actor; its state changes commit atomically. */
export interface WriterContext extends ActorContext {
  readonly kind: "writer";
  /**
   * Deletes this actor when the writer commits (its changes to the state
   * are dropped): its state, its cron schedules, and its tasks that have
   * not ended (CANCELLED, but for a task whose run made this call) go in
   * the same commit; watchers see it absent.
   * A constructor may create it again. Not inside a transaction.
   */
  deleteActor(): void;
}

/** A transaction may call writers and transactions on other actors. */
export interface TransactionContext extends ActorContext {
  readonly kind: "transaction";
}

/** A workflow runs as a durable task. */
export interface WorkflowContext extends ActorContext {
  readonly kind: "workflow";
  readonly taskId: string;
  /** 0 on the first run; +1 each time the workflow returns a Loop. */
  readonly iteration: number;
  /**
   * Fired when the task is cancelled (Tasks.Cancel) or the application
   * stops: pass it to fetches and timers; `finally` blocks still run.
   */
  readonly signal: AbortSignal;
  /**
   * Resolves at once normally; parks while the task is paused (resolving
   * on resume); throws Cancelled once it is cancelled. Durable steps make
   * the same check.
   */
  checkpoint(): Promise<void>;
  /**
   * Reports how far the workflow is: shown by Tasks.Get and streamed to
   * Tasks.Watch at once. Cheap to call often: the newest report is written
   * at most once a second and when the run ends.
   */
  progress(report: TaskProgressReport): void;
}

import type { Store, TaskRecord } from "../../store/store.js";
import type { Logger } from "../../api/logger.js";
import type { Clock } from "../clock.js";
import type { Watchers } from "../watchers.js";
import type { RunControl } from "./run-control.js";

/**
 * What the task machinery needs of the engine above it: time, the store,
 * and change notification for tasks suspended in `until`. Narrow on
 * purpose: tasks know nothing of actors' handlers or workflows.
 */
export interface TaskHost {
  readonly clock: Clock;
  readonly store: Store;
  readonly watchers: Watchers;
  /** Failures no caller sees (a record not stored, a schedule that could not fire). */
  readonly logger: Logger;
  /** The application's code version, stamped on the tasks it creates (cron runs). */
  readonly codeVersion?: string;
  /** Durable version of an actor key (0: absent); `seen`: what the waiter read (see `Engine.durableVersion`). */
  durableVersion(key: string, seen?: number): number;
  /** Marks a task or schedule id the server makes with its partition (absent: one partition). */
  readonly markId?: (id: string) => string;
  /**
   * Tasks an operator controls here that run on another node (handed over
   * there): that task is paused or resumed before the control is recorded
   * here (a rejection refuses it), and cancelled by the extra tasks stored
   * in the cancel's commit (couriers, run like any task).
   */
  readonly handedOver?: {
    beforeControl(task: TaskRecord, action: "pause" | "resume"): Promise<void>;
    cancelled(task: TaskRecord): readonly TaskRecord[];
  };
}

/**
 * Runs a task once and returns the record it leaves behind, already
 * durable (or undefined if the application stopped meanwhile). Injected
 * into the dispatcher by the composition root: the workflow runner.
 */
export type TaskRunner = (task: TaskRecord, control: RunControl) => Promise<TaskRecord | undefined>;

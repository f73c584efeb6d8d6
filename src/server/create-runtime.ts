import type { Store, TaskRecord } from "../store/store.js";
import type { Logger } from "../api/logger.js";
import { ActorStates } from "../runtime/actor-states.js";
import { systemClock } from "../runtime/clock.js";
import { MonitoredStore } from "../runtime/monitored-store.js";
import { RuntimeMetrics } from "../runtime/metrics.js";
import { tracedRunner } from "../runtime/tasks/traced-runner.js";
import { SharedWatches } from "../runtime/reactive.js";
import { Runtime, type RuntimeOptions } from "../runtime/runtime.js";
import type { ServicerClass } from "../runtime/servicer.js";
import { StoreHealth } from "../runtime/store-health.js";
import { Dispatcher } from "../runtime/tasks/dispatcher.js";
import { TaskHub } from "../runtime/tasks/progress.js";
import { CronSchedules } from "../runtime/tasks/schedules.js";
import { Watchers } from "../runtime/watchers.js";
import { workflowRunner } from "../runtime/workflow/run-task.js";
import { cancelCourier, controlHandedOver } from "../runtime/task-hand-over.js";
import { localTransactionSide } from "../runtime/local-transaction-side.js";
import type { TwoPhasePoint } from "../runtime/transaction-side.js";
import type { TwoPhaseBounds } from "../runtime/two-phase-bounds.js";

/**
 * Builds a runtime and the parts it works with, and wires them: the
 * dispatcher runs tasks with the workflow runner; durable commits arm the
 * tasks and cron schedules they stored; a store that takes writes again
 * re-runs what it refused. Nothing below this file knows the whole picture.
 */
export function createRuntime(
  store: Store,
  servicers: readonly ServicerClass[],
  /** `watchers`: shared by the partitions of one process, so a commit on one wakes readers of it on any. */
  /** `testPoint`: test-only, called at two-phase commit's crash points (see test-crash-point.ts). */
  /** `twoPhase`: test-only smaller bounds (see test-two-phase-bounds.ts). */
  options: RuntimeOptions & { logger: Logger; watchers?: Watchers; testPoint?: (point: TwoPhasePoint) => void; twoPhase?: Partial<TwoPhaseBounds> },
): Runtime {
  const { logger } = options;
  const health = new StoreHealth(store, logger);
  const metrics = new RuntimeMetrics();
  const monitored = new MonitoredStore(store, health, metrics);
  const clock = options.clock ?? systemClock;
  const watchers = options.watchers ?? new Watchers();
  const states = new ActorStates(monitored, health, watchers, options.maxCachedActors ?? 10_000);
  const taskHub = new TaskHub({ clock, store: monitored, logger });
  // The runner and the reactive readers call back into the runtime built below.
  let runtime: Runtime | undefined;
  const engine = () => runtime!;
  const host = {
    clock,
    store: monitored,
    watchers,
    logger,
    codeVersion: options.codeVersion,
    // An `until` may read actors of other partitions: the runtime routes.
    durableVersion: (key: string, seen?: number) => engine().durableVersion(key, seen),
    markId: (id: string) => engine().placeTaskId(engine().partition, id),
    handedOver: {
      beforeControl: (task: TaskRecord, action: "pause" | "resume") => controlHandedOver(engine(), task, action),
      cancelled: (task: TaskRecord) => [cancelCourier(engine(), task)].filter((t) => t !== undefined),
    },
  };
  const tasks = new Dispatcher(host, taskHub, tracedRunner(workflowRunner(engine)), options.retry, options.maxRunningTasks);
  const schedules = new CronSchedules(host, (task) => tasks.arm(task));
  const readerWatches = new SharedWatches({
    execute: (call, caller) => engine().execute(call, caller),
    durableVersion: (key, seen) => engine().durableVersion(key, seen),
    watchers,
  });
  states.onCommitted((committed) => {
    for (const task of committed.tasks) tasks.arm(task);
    for (const schedule of committed.schedules) schedules.arm(schedule);
  });
  // Work whose bookkeeping the store refused runs again at once.
  health.onWritable(() => {
    tasks.storeWritable();
    schedules.recover();
  });
  metrics.observeTasks(() => tasks.load);
  const partition = options.placement?.partition ?? 0;
  const transactions = localTransactionSide({
    ...{ partition, store: monitored, states, logger, testPoint: options.testPoint, twoPhase: options.twoPhase },
    specOf: (typeName) => engine().specs.find((s) => s.typeName === typeName),
    sideOf: (p) => engine().transactionSide(p),
  });
  const parts = { store: monitored, health, clock, watchers, states, tasks, taskHub, schedules, readerWatches, logger, metrics, transactions };
  runtime = new Runtime(parts, servicers, options);
  // Before any call is served: prepared actors stay locked until their coordinator decides.
  transactions.participant.relock();
  return runtime;
}

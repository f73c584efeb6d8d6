import type { CommitBatch, TaskRecord } from "../../store/store.js";
import type { Timer } from "../clock.js";
import { StoreUnavailable, failedPrecondition, notFound, serverStopping } from "../../api/errors.js";
import { readVersions, type ChangeWaiter, type ReadVersions } from "../watchers.js";
import { RunControl } from "./run-control.js";
import { TaskWaiters } from "./task-waiters.js";
import type { TaskHub } from "./progress.js";
import { DEFAULT_RETRY, backoff, checkRetryPolicy, type RetryPolicy } from "./retry-policy.js";
import type { TaskHost, TaskRunner } from "./task-host.js";
import { taskEvent } from "./task-events.js";
import { isFinal } from "./task-record.js";

const MAX_TIMER_MS = 2 ** 31 - 1;

export const DEFAULT_MAX_RUNNING = 1_000;

/**
 * Only tasks due within this get a timer; a sweep every half of it finds
 * the others (in the store's due index) as their time comes near, so a
 * task sleeping for a day holds no memory but its durable record.
 */
export const TIMER_HORIZON_MS = 60_000;

/** A task suspended in `until`: all the memory it holds while it waits. */
class TaskWait implements ChangeWaiter {
  constructor(
    readonly taskId: string,
    readonly reads: ReadVersions,
    private readonly dispatcher: Dispatcher,
  ) {}

  wake(): void {
    this.dispatcher.woken(this);
  }
}

/**
 * Runs durable tasks when they are due: a timer per task due within the
 * horizon (the rest are swept in from the store), a watch per task waiting
 * in `until`, one run at a time per task and at most `maxRunning` in all,
 * and every pending task re-armed after a restart.
 */
export class Dispatcher {
  readonly #timers = new Map<string, Timer>();
  readonly #running = new Map<string, Promise<void>>();
  /** Process control of each running task (cancel, pause). */
  readonly #controls = new Map<string, RunControl>();
  /** Callers awaiting a task's end; each leaves when its caller goes away. */
  readonly #waiters = new TaskWaiters();
  /** Tasks suspended in `until`, with their waits. */
  readonly #watching = new Map<string, TaskWait>();
  readonly #stopping = new AbortController();
  readonly retry: RetryPolicy;

  /** Tasks due before this have been given timers (see #sweep). */
  #sweptUntil = 0;
  #sweepTimer: Timer | undefined;
  /** Due tasks waiting for a free run slot, oldest first. */
  readonly #ready = new Set<string>();
  /** Runs holding a slot: running, and not blocked on another task. */
  #active = 0;
  /**
   * Tasks whose last run the store refused to record, with how many times
   * in a row: retried on the retry backoff in memory, and at once when the
   * store takes writes again. One entry per such task, never more.
   */
  readonly #unrecorded = new Map<string, number>();

  constructor(
    private readonly host: TaskHost,
    private readonly hub: TaskHub,
    /** Runs one task (the workflow runner, injected by the composition root). */
    private readonly runTask: TaskRunner,
    retry: Partial<RetryPolicy> | undefined,
    /**
     * Runs at once; more due tasks queue (a set entry each). Without a bound,
     * 100,000 tasks due together (a recovery, a burst of spawns) would all
     * hold a run's memory at the same time.
     */
    readonly maxRunning = DEFAULT_MAX_RUNNING,
  ) {
    checkRetryPolicy(retry ?? {}, (what) => new Error(`retry.${what}`));
    this.retry = { ...DEFAULT_RETRY, ...retry };
  }

  /** Fired when the application stops: running workflows unwind. */
  get signal(): AbortSignal {
    return this.#stopping.signal;
  }

  /** How many tasks are queued for a slot, running, and suspended in `until` (for metrics). */
  get load(): { readonly queued: number; readonly running: number; readonly suspended: number } {
    return { queued: this.#ready.size, running: this.#running.size, suspended: this.#watching.size };
  }

  /** Running, or suspended in `until`: for operators both are RUNNING. */
  isRunning(taskId: string): boolean {
    return this.#running.has(taskId) || this.#watching.has(taskId);
  }

  /** After a run that suspended in `until`: runs the task again when what it read changes. */
  #watch(taskId: string, control: RunControl): void {
    const reads = control.waitingOn;
    // Paused or cancelled during the run: the operator's record wins.
    if (!reads || control.paused || control.cancelled || this.#stopping.signal.aborted) return;
    const wait = new TaskWait(taskId, readVersions(reads), this);
    this.#watching.set(taskId, wait);
    this.host.watchers.watch(wait, (key, seen) => this.host.durableVersion(key, seen));
  }

  /** A watched state changed: run the suspended task again. */
  woken(wait: TaskWait): void {
    if (this.#watching.get(wait.taskId) !== wait) return;
    this.#watching.delete(wait.taskId);
    this.#run(wait.taskId);
  }

  #unwatch(taskId: string): void {
    const wait = this.#watching.get(taskId);
    if (!wait) return;
    this.#watching.delete(taskId);
    this.host.watchers.unwatch(wait);
  }

  /** Re-arms every task that had not ended when the process last stopped and is due soon. */
  recover(): void {
    this.#sweep(0);
  }

  /**
   * Arms the tasks due in [from, now + horizon) that have no timer yet, and
   * sweeps again in half a horizon: `#sweptUntil` only moves forward, so each
   * task is found once, when its time comes near.
   */
  #sweep(from: number): void {
    if (this.#stopping.signal.aborted) return;
    const until = this.host.clock.now() + TIMER_HORIZON_MS;
    this.#sweptUntil = until;
    for (const taskId of this.host.store.dueTaskIds(from, until)) {
      if (this.#timers.has(taskId) || this.#running.has(taskId) || this.#ready.has(taskId) || this.#watching.has(taskId)) continue;
      const task = this.host.store.getTask(taskId);
      if (task) this.arm(task);
    }
    this.#sweepTimer = this.host.clock.setTimer(() => this.#sweep(this.#sweptUntil), TIMER_HORIZON_MS / 2);
  }

  /** Runs `task` at its `runAt` (at once if due); one due beyond the horizon is left to the sweep. */
  arm(task: TaskRecord): void {
    if (this.#stopping.signal.aborted) return;
    if (task.runAt >= this.#sweptUntil) {
      this.host.clock.clearTimer(this.#timers.get(task.taskId));
      this.#timers.delete(task.taskId);
      return;
    }
    const clock = this.host.clock;
    clock.clearTimer(this.#timers.get(task.taskId));
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, task.runAt - clock.now()));
    this.#timers.set(
      task.taskId,
      clock.setTimer(() => {
        this.#timers.delete(task.taskId);
        this.#run(task.taskId);
      }, delay),
    );
  }

  #run(taskId: string): void {
    if (this.#running.has(taskId) || this.#stopping.signal.aborted) return;
    // Whatever woke it first, the timer or a watched change, the other is moot.
    this.#unwatch(taskId);
    this.host.clock.clearTimer(this.#timers.get(taskId));
    this.#timers.delete(taskId);
    if (this.#active >= this.maxRunning) {
      this.#ready.add(taskId);
      return;
    }
    const task = this.host.store.getTask(taskId);
    if (!task || isFinal(task) || task.status === "paused") return;
    if (task.runAt > this.host.clock.now()) return this.arm(task); // beyond one timer's reach
    const control = new RunControl(taskId);
    this.#active++;
    const run = this.runTask(task, control)
      .then((next) => {
        this.#unrecorded.delete(taskId);
        if (!next) return;
        if (isFinal(next)) this.#settled(next);
        else if (next.status === "scheduled") this.arm(next);
      })
      .catch((e: unknown) => {
        if (e instanceof StoreUnavailable) return this.#retryUnrecorded(task);
        this.host.logger.error({ taskId, err: e }, "the task could not be recorded");
      })
      .finally(() => {
        this.#running.delete(taskId);
        this.#controls.delete(taskId);
        this.#active--;
        this.#admit();
        // RUNNING is shown from #running: watchers see it end.
        this.hub.changed(taskId);
        this.#watch(taskId, control);
      });
    this.#controls.set(taskId, control);
    this.#running.set(taskId, run);
  }

  /**
   * The store refused the run's record (the stored task is as it was,
   * due): run it again after the retry backoff, not at once, capped so the
   * timer stays within the sweep's horizon.
   */
  #retryUnrecorded(task: TaskRecord): void {
    const failures = (this.#unrecorded.get(task.taskId) ?? 0) + 1;
    this.#unrecorded.set(task.taskId, failures);
    const policy = { ...this.retry, maxMs: Math.min(this.retry.maxMs, TIMER_HORIZON_MS / 2) };
    this.arm({ ...task, runAt: this.host.clock.now() + backoff(policy, task.attempts + failures) });
  }

  /** The store takes writes again: tasks it refused to record run now, not at their backoff. */
  storeWritable(): void {
    for (const taskId of [...this.#unrecorded.keys()]) {
      this.#unrecorded.delete(taskId);
      this.#run(taskId);
    }
  }

  /** Starts queued due tasks while there are free slots. */
  #admit(): void {
    for (const taskId of this.#ready) {
      if (this.#active >= this.maxRunning) return;
      this.#ready.delete(taskId);
      this.#run(taskId);
    }
  }

  /**
   * A run awaiting another task (a child workflow) gives up its slot meanwhile:
   * parents filling every slot must not starve the children they wait for.
   */
  async blockedOn<T>(wait: Promise<T>): Promise<T> {
    this.#active--;
    this.#admit();
    try {
      return await wait;
    } finally {
      this.#active++;
    }
  }

  // ---- process control (operators) -------------------------------------

  /** The task as an operator call finds it: once a run recording its outcome has. */
  async #current(taskId: string, verb: string): Promise<TaskRecord> {
    if (this.#controls.get(taskId)?.ending) await this.#running.get(taskId);
    const task = this.host.store.getTask(taskId);
    if (!task) throw notFound(`no task ${JSON.stringify(taskId)}`);
    if (isFinal(task)) throw failedPrecondition(`task ${taskId} has ended (${task.status}): it cannot be ${verb}`);
    return task;
  }

  #disarm(taskId: string): void {
    this.host.clock.clearTimer(this.#timers.get(taskId));
    this.#timers.delete(taskId);
    this.#ready.delete(taskId);
    this.#unwatch(taskId);
  }

  /**
   * Ends the task as CANCELLED, durably; a running workflow's signal fires
   * and its next checkpoint or durable step throws Cancelled.
   */
  async cancel(taskId: string): Promise<TaskRecord> {
    const task = await this.#current(taskId, "cancelled");
    this.#disarm(taskId);
    const control = this.#controls.get(taskId);
    control?.cancel();
    const next: TaskRecord = { ...task, status: "cancelled" };
    const couriers = this.host.handedOver?.cancelled(task) ?? [];
    await this.#commitOrRearm(task, { states: [], idempotency: [], tasks: [next, ...couriers], events: [taskEvent(this.host.clock.now(), taskId, "cancelled")] });
    this.#settled(next);
    for (const courier of couriers) this.arm(courier);
    return next;
  }

  /**
   * Tasks a commit made elsewhere ends as CANCELLED (an actor's deletion):
   * they are not run again, a running one stops at its next checkpoint or
   * durable step, and callers awaiting them hear once `durable` resolves.
   */
  cancelledBy(tasks: readonly TaskRecord[], durable: Promise<void>): void {
    for (const { taskId } of tasks) {
      this.#disarm(taskId);
      this.#controls.get(taskId)?.cancel();
    }
    durable.then(
      () => tasks.forEach((task) => this.#settled(task)),
      () => undefined, // the writer's caller hears why
    );
  }

  /** Holds the task: not run while PAUSED; a running one parks at its next checkpoint. */
  async pause(taskId: string): Promise<TaskRecord> {
    const task = await this.#current(taskId, "paused");
    if (task.status === "paused") return task;
    await this.host.handedOver?.beforeControl(task, "pause");
    this.#disarm(taskId);
    this.#controls.get(taskId)?.pause();
    const next: TaskRecord = { ...task, status: "paused" };
    await this.#commitOrRearm(task, { states: [], idempotency: [], tasks: [next], events: [taskEvent(this.host.clock.now(), taskId, "paused")] }, () =>
      this.#controls.get(taskId)?.resume(),
    );
    return next;
  }

  /** Lets a paused task go on: a parked run continues, a waiting one is re-armed. */
  async resume(taskId: string): Promise<TaskRecord> {
    const task = await this.#current(taskId, "resumed");
    if (task.status !== "paused") return task;
    await this.host.handedOver?.beforeControl(task, "resume");
    const next: TaskRecord = { ...task, status: "scheduled" };
    // Before the commit: a run ending meanwhile must not record PAUSED.
    this.#controls.get(taskId)?.resume();
    await this.host.store.commit({ states: [], idempotency: [], tasks: [next], events: [taskEvent(this.host.clock.now(), taskId, "resumed")] });
    if (!this.#controls.has(taskId)) this.arm(next);
    return next;
  }

  /** An operator's record; if the store refuses it, the disarmed task is armed again as it was. */
  async #commitOrRearm(task: TaskRecord, batch: CommitBatch, undo?: () => void): Promise<void> {
    try {
      await this.host.store.commit(batch);
    } catch (e) {
      undo?.();
      if (!this.#running.has(task.taskId) && task.status !== "paused") this.arm(task);
      throw e;
    }
  }

  /**
   * Resolves with the task once it has ended. A caller that goes away first
   * (`signal` fires: a client closed its Wait, a run stopped) is dropped at
   * once and the promise rejects with the signal's reason: a waiter must
   * never outlive the one waiting.
   */
  waitFinal(taskId: string, signal?: AbortSignal): Promise<TaskRecord> {
    const task = this.host.store.getTask(taskId);
    if (!task) return Promise.reject(notFound(`no task ${JSON.stringify(taskId)}`));
    if (isFinal(task)) return Promise.resolve(task);
    return this.#waiters.wait(taskId, signal);
  }

  /** Callers waiting for tasks to end, over all tasks. */
  get waiting(): number {
    return this.#waiters.size;
  }

  #settled(task: TaskRecord): void {
    this.#waiters.settle(task);
  }

  /**
   * Stops running tasks at their next durable step and waits for them up
   * to `graceMs` (the application's drain bound): a run blocked outside any
   * step is left behind, to run again after a restart.
   */
  async stop(graceMs: number): Promise<void> {
    const reason = new Error("the application is stopping");
    this.#stopping.abort(reason);
    for (const control of this.#controls.values()) control.stop(reason);
    // Runs have let go of their waits above; callers outside still waiting hear why.
    this.#waiters.failAll(serverStopping());
    for (const timer of this.#timers.values()) this.host.clock.clearTimer(timer);
    this.#timers.clear();
    this.host.clock.clearTimer(this.#sweepTimer);
    this.#ready.clear();
    for (const taskId of [...this.#watching.keys()]) this.#unwatch(taskId);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([Promise.allSettled(this.#running.values()), grace]);
    clearTimeout(timer);
  }
}

import type { Message } from "@bufbuild/protobuf";
import type { MemoKey, MemoRecord, TaskRecord } from "../../store/store.js";
import { CallContext, toCall, type Caller } from "../context-impl.js";
import type { Engine } from "../engine.js";
import type { WorkflowContext } from "../context.js";
import type { TaskProgressReport } from "../tasks/progress.js";
import { stepEvent } from "../tasks/task-events.js";
import { ContextMisuse, FatalError, StoreUnavailable } from "../../api/errors.js";
import { deriveKey } from "../idempotency.js";
import type { IdempotencyChoice, Invocation, TaskControl, TaskTiming } from "../../api/invocation.js";
import { watchReader } from "../reactive.js";
import type { MethodSpec, StateSpec } from "../../api/spec.js";
import { taskOutcome } from "../task-outcome.js";
import type { RunControl } from "../tasks/run-control.js";
import { newTaskId, taskIdForKey, toMillis } from "../tasks/task-record.js";
import { Suspended } from "./suspended.js";

/**
 * The context of one run of a workflow. Besides what a handler sees, it
 * carries what the step helpers need: memo access scoped to (task,
 * iteration), deterministic idempotency keys, and process control (the
 * signal fired on cancel or stop, the pause).
 */
export class WorkflowContextImpl extends CallContext implements WorkflowContext {
  readonly kind = "workflow" as const;
  readonly taskId: string;
  readonly iteration: number;
  /** Keys and step aliases used in this run: reuse is a bug in the workflow. */
  readonly #used = new Set<string>();
  /** Fired when the task is cancelled or the application stops. */
  readonly signal: AbortSignal;
  /** The earliest time a `sleep` in this run asked to be woken at, if any. */
  #suspendedUntil: number | undefined;
  /** The states a suspended `until` in this run read, with the versions seen. */
  #waitingOn: ReadonlyMap<string, number> | undefined;
  /** Set by awaitRemote when it suspends: shown on the task while it waits. */
  remoteWait: Pick<TaskRecord, "remoteStatusInput" | "lastError"> | undefined;
  /**
   * While this run re-does what earlier runs did (memoized steps, stored
   * call outcomes), its progress reports repeat older ones: the newest is
   * held back until the run reaches work not done before, so watchers never
   * see progress go backwards. A task that has shown no progress yet has
   * nothing to go back from.
   */
  #replaying: boolean;
  #heldProgress: TaskProgressReport | undefined;
  /** What `patched` answered in this run, per patch id. */
  readonly #patches = new Map<string, boolean>();

  constructor(
    readonly runtime: Engine,
    readonly spec: StateSpec,
    method: MethodSpec,
    task: TaskRecord,
    readonly runControl: RunControl,
  ) {
    super({ spec, method, actorId: task.actorId }, { kind: "workflow", internal: true });
    this.signal = runControl.signal;
    this.taskId = task.taskId;
    this.iteration = task.iteration;
    this.#replaying = runtime.taskHub.progress(task.taskId) !== undefined;
  }

  /** Its keyed calls name this task: their records are kept while it runs (a re-run issues them again). */
  protected override get caller(): Caller {
    return { kind: this.kind, internal: true, owner: { taskId: this.taskId, iteration: this.iteration } };
  }

  // ---- calls through refs ---------------------------------------------

  override invoke(inv: Invocation): Promise<Message> {
    // A call is a durable step: it parks while paused, stops once cancelled.
    const parked = this.runControl.check();
    return parked ? parked.then(() => super.invoke(inv)) : super.invoke(inv);
  }

  protected call(inv: Invocation): Promise<Message> {
    if (inv.method.kind === "reader") return this.runtime.execute(toCall(inv), this.caller);
    const key = this.#keyFor(inv);
    this.reachCall(key);
    if (inv.method.kind === "workflow") {
      // A child workflow: spawned once per key, its outcome awaited.
      const child = this.runtime.spawn(toCall(inv, key), undefined, undefined, this.caller);
      return child.then((id) => this.wait(id, inv.method));
    }
    return this.runtime.execute(toCall(inv, key), this.caller);
  }

  override spawn(inv: Invocation, timing: TaskTiming): { taskId: string; started: Promise<void> } {
    const key = this.#keyFor(inv);
    this.reachCall(key);
    // A fresh id is marked with the partition the spawn lands on; a keyed one is the key's, as a client derives it.
    const fresh = () => this.runtime.placeTaskId(this.runtime.partitionOf(inv.spec.typeName, inv.actorId), newTaskId(this.runtime.clock.now()));
    const taskId = key === undefined ? fresh() : taskIdForKey(key);
    return { taskId, started: this.runtime.spawn(toCall(inv, key), toMillis(timing.when), taskId, this.caller).then(() => undefined) };
  }

  /**
   * Awaits another task. One that ended FAILED or CANCELLED never changes,
   * so this run fails too (FatalError) instead of retrying into the same
   * answer forever.
   */
  override async wait(taskId: string, method: MethodSpec): Promise<Message> {
    const task = await this.runtime.tasks.blockedOn(this.runtime.waitFinal(taskId, this.runControl.signal));
    if (task.status === "failed" || task.status === "cancelled") {
      throw new FatalError(`awaited task ${taskId} (${task.stateType}.${task.method}) ended ${task.status.toUpperCase()}: ${task.lastError ?? "no result"}`);
    }
    return taskOutcome(task, method);
  }

  override async control(taskId: string, action: TaskControl): Promise<void> {
    await this.runtime.controlTask(taskId, action);
  }

  override watch(inv: Invocation, signal?: AbortSignal): AsyncIterable<Message> {
    return watchReader(this.runtime, toCall(inv), this.caller, AbortSignal.any([this.signal, ...(signal ? [signal] : [])]));
  }

  #keyFor(inv: Invocation): string | undefined {
    return this.keyFor(inv.spec.typeName, inv.actorId, inv.method.name, inv.idempotency);
  }

  /**
   * The key of a mutation made by this run: derived from (task, iteration,
   * target, method, alias), so a re-run re-issues the same keys.
   */
  keyFor(stateType: string, actorId: string, method: string, choice: IdempotencyChoice): string | undefined {
    switch (choice.kind) {
      case "unset":
        throw new ContextMisuse(
          `${stateType}.${method} changes state: inside a workflow call it through ` +
            `.idempotently(alias?) (once per workflow run) or .unidempotently() (on every run)`,
        );
      case "none":
        return undefined;
      case "key":
        return choice.key;
      case "alias": {
        const key = deriveKey(`task:${this.taskId}:${this.iteration}`, stateType, actorId, method, choice.alias);
        this.claim(`key:${key}`, () =>
          `${stateType}(${JSON.stringify(actorId)}).${method} was called twice in one run with the alias ` +
          `${JSON.stringify(choice.alias)}: give each call its own alias`,
        );
        return key;
      }
    }
  }

  // ---- process control --------------------------------------------------

  checkpoint(): Promise<void> {
    return this.runControl.check() ?? Promise.resolve();
  }

  progress(report: TaskProgressReport): void {
    if (this.#replaying) this.#heldProgress = report;
    else this.runtime.taskHub.report(this.taskId, report);
  }

  /** The run reached work no earlier run did: its progress is live from here on. */
  live(): void {
    if (!this.#replaying) return;
    this.#replaying = false;
    const held = this.#heldProgress;
    this.#heldProgress = undefined;
    if (held) this.runtime.taskHub.report(this.taskId, held);
  }

  /** A mutation under `key` (none: made on every run) is new work unless its outcome is stored. */
  reachCall(key: string | undefined): void {
    if (this.#replaying && (key === undefined || !this.runtime.store.getIdempotency(key))) this.live();
  }

  // ---- suspension -------------------------------------------------------

  /**
   * Ends this run, to run again from the top at `until`. Recorded here as
   * well as thrown, so a run that swallowed the signal is still suspended
   * rather than carrying on past a sleep that has not elapsed.
   */
  suspend(until: number): Suspended {
    this.#suspendedUntil = Math.min(until, this.#suspendedUntil ?? Infinity);
    return new Suspended(this.#suspendedUntil);
  }

  get suspendedUntil(): number | undefined {
    return this.#suspendedUntil;
  }

  /**
   * Ends this run, to run again from the top when any of `reads` (actor key
   * → version seen) commits a newer version: a waiting `until` holds no
   * memory but this small map, kept by the dispatcher.
   */
  suspendOn(reads: ReadonlyMap<string, number>): Suspended {
    const all = new Map(this.#waitingOn);
    for (const [key, version] of reads) all.set(key, Math.min(version, all.get(key) ?? Infinity));
    this.#waitingOn = all;
    return new Suspended(this.#suspendedUntil);
  }

  /** What a suspended `until` in this run waits to change, if any. */
  get waitingOn(): ReadonlyMap<string, number> | undefined {
    return this.#waitingOn;
  }

  // ---- versions ---------------------------------------------------------

  /**
   * Whether this instance takes the new branch of patch `id` (see
   * patched.ts): recorded the first time it is asked, so every later run
   * answers the same. False if an earlier run of this iteration recorded
   * steps this run has not reached yet: old code went past this point.
   */
  patched(id: string): boolean {
    let taken = this.#patches.get(id);
    if (taken !== undefined) return taken;
    const memo = this.runtime.store.getMemo(this.memoKey(PATCH_STEP, id));
    if (memo?.kind === "value") {
      taken = memo.json === "true";
    } else {
      taken = !this.#passedByEarlierRuns();
      // Losing it in a crash is harmless: until a later step is recorded, asking again gives the same answer.
      this.rememberLazily(PATCH_STEP, id, { kind: "value", json: String(taken) });
    }
    this.#patches.set(id, taken);
    return taken;
  }

  /** Whether earlier runs of this iteration recorded a step (not a patch) this run has not reached. */
  #passedByEarlierRuns(): boolean {
    for (const [, , step, alias] of this.runtime.store.memoKeys(this.taskId, this.iteration)) {
      if (step !== PATCH_STEP && !this.#used.has(`${step}:${alias}`)) return true;
    }
    return false;
  }

  // ---- memoized steps ---------------------------------------------------

  /** Refuses a second use of the same name in this run. */
  claim(name: string, why: () => string): void {
    if (this.#used.has(name)) throw new FatalError(why());
    this.#used.add(name);
  }

  memoKey(step: string, alias: string): MemoKey {
    return [this.taskId, this.iteration, step, alias];
  }

  /** The step's memo; none means the run reached a step no earlier run did. */
  memo(step: string, alias: string): MemoRecord | undefined {
    const memo = this.runtime.store.getMemo(this.memoKey(step, alias));
    if (memo === undefined) this.live();
    return memo;
  }

  /** Stores a step's memo durably before the step's result is used. */
  remember(step: string, alias: string, record: MemoRecord): Promise<void> {
    const events = [stepEvent(this.runtime.clock.now(), this.taskId, step, alias, record)];
    return this.runtime.store.commit({ states: [], idempotency: [], memos: [{ key: this.memoKey(step, alias), record }], events });
  }

  /**
   * Stores the memo of a repeatable step (atLeastOnce, until) without
   * waiting at all: losing it in a crash only runs the step again, which
   * their contract allows; commits are ordered, so the task's next durable
   * commit makes it durable too. Aliases are unique per run, so nothing in
   * this run reads it back.
   */
  rememberLazily(step: string, alias: string, record: MemoRecord): void {
    const events = [stepEvent(this.runtime.clock.now(), this.taskId, step, alias, record)];
    const batch = { states: [], idempotency: [], memos: [{ key: this.memoKey(step, alias), record }], events };
    this.runtime.store.commit(batch, { visibleOnly: true }).catch((e: unknown) => {
      // A refusing store is logged once, by its health; the run's end is refused too.
      if (e instanceof StoreUnavailable) return;
      this.runtime.logger.error({ taskId: this.taskId, err: e }, `the memo of ${step}(${JSON.stringify(alias)}) was not stored; it will run again`);
    });
  }
}

/** The memo step under which `patched` records its answers. */
const PATCH_STEP = "patched";

/** The run behind a context handed to a step helper; only workflows have one. */
export function workflowRun(ctx: WorkflowContext, helper: string): WorkflowContextImpl {
  if (!(ctx instanceof WorkflowContextImpl)) {
    throw new ContextMisuse(`${helper} may only be called with the context of a running workflow`);
  }
  return ctx;
}

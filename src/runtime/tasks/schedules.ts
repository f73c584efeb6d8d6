import { createHash } from "node:crypto";
import { toBinary } from "@bufbuild/protobuf";
import { Cron } from "croner";
import type { ScheduleRecord, TaskRecord } from "../../store/store.js";
import type { Timer } from "../clock.js";
import { StoreUnavailable, invalidArgument, notFound } from "../../api/errors.js";
import type { CronTiming, TaskTiming } from "../../api/invocation.js";
import type { Call } from "../call.js";
import type { TaskHost } from "./task-host.js";
import { isFinal, isValidTaskId, scheduledRunTaskId } from "./task-record.js";

export function isCronTiming(timing: TaskTiming): timing is CronTiming {
  return timing.cron !== undefined;
}

/** Parses `cron` in `timezone` ("" = UTC); throws a clear error if either is bad. */
function parseCron(cron: string, timezone: string): Cron {
  if (timezone !== "") {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: timezone });
    } catch {
      throw invalidArgument(`unknown time zone ${JSON.stringify(timezone)}: use an IANA name such as "Europe/Paris"`);
    }
  }
  try {
    // UTC unless told: the server's own zone must not change when runs fire.
    return new Cron(cron, { timezone: timezone || "UTC", paused: true, mode: "5-or-6-parts" });
  } catch (e) {
    throw invalidArgument(`bad cron expression ${JSON.stringify(cron)}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** The first time strictly after `after` (ms) that the expression matches, if any. */
export function nextCronRun(cron: string, timezone: string, after: number): number | undefined {
  return parseCron(cron, timezone).nextRun(new Date(after))?.getTime();
}

/** Same target, method and cron in the same zone: the same schedule. */
export function scheduleIdFor(stateType: string, actorId: string, method: string, cron: string, timezone: string): string {
  const hash = createHash("sha256").update(JSON.stringify([stateType, actorId, method, cron, timezone])).digest("hex");
  return `c-${hash.slice(0, 32)}`;
}

/**
 * The schedule a writer or transaction adds to its commit for
 * `ref.schedule({ cron })`; `record` is absent when the same schedule is
 * already stored (re-scheduling is a no-op). Throws before anything is
 * committed if the method is not a workflow or the cron or zone is bad.
 */
export function defineSchedule(
  host: Pick<TaskHost, "clock" | "store" | "markId">,
  call: Call,
  timing: CronTiming,
): { scheduleId: string; record?: ScheduleRecord } {
  const { spec, method, actorId } = call;
  if (method.kind !== "workflow") {
    throw invalidArgument(`${spec.typeName}.${method.name} is a ${method.kind}: only workflows can have cron schedules`);
  }
  const timezone = timing.timezone ?? "";
  const now = host.clock.now();
  const nextRunAt = nextCronRun(timing.cron, timezone, now);
  if (nextRunAt === undefined) throw invalidArgument(`cron expression ${JSON.stringify(timing.cron)} never matches`);
  if (timing.id !== undefined && !isValidTaskId(timing.id)) {
    throw invalidArgument(`schedule id ${JSON.stringify(timing.id)} is not 1-128 letters, digits, '-' or '_'`);
  }
  const derived = scheduleIdFor(spec.typeName, actorId, method.name, timing.cron, timezone);
  const scheduleId = timing.id ?? host.markId?.(derived) ?? derived;
  const request = toBinary(method.desc.input, call.request);
  const stored = host.store.getSchedule(scheduleId);
  if (
    stored && stored.stateType === spec.typeName && stored.actorId === actorId && stored.method === method.name &&
    stored.cron === timing.cron && stored.timezone === timezone && Buffer.compare(stored.request, request) === 0
  ) {
    return { scheduleId };
  }
  // A new definition under a known id replaces it, keeping its run history.
  // (A fire committing at the same moment may write the old definition back:
  // re-defining a schedule in the instant it is due is left at that.)
  const record: ScheduleRecord = {
    scheduleId,
    stateType: spec.typeName,
    actorId,
    method: method.name,
    request,
    cron: timing.cron,
    timezone,
    nextRunAt,
    lastTaskId: stored?.lastTaskId,
    skipped: stored?.skipped ?? 0,
    createdAt: stored?.createdAt ?? now,
  };
  return { scheduleId, record };
}

/**
 * Fires cron schedules: one timer per schedule for its next due time. A run
 * due while the schedule's previous task has not ended is skipped (and
 * counted); otherwise it starts a task. Either way, the same commit moves
 * the schedule to its next time after both the due time and now, so runs
 * missed while the server was down are caught up with one run at most.
 */
export class CronSchedules {
  readonly #timers = new Map<string, Timer>();
  /** Fires and deletes, one at a time: each reads, then rewrites, a schedule. */
  #queue: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(
    private readonly host: Pick<TaskHost, "clock" | "store" | "logger" | "codeVersion" | "markId">,
    /** Arms a task a fire started (the dispatcher's `arm`). */
    private readonly armTask: (task: TaskRecord) => void,
  ) {}

  /** Arms every stored schedule (on start). */
  recover(): void {
    for (const schedule of this.host.store.schedules()) this.arm(schedule);
  }

  /** Sets the timer for the schedule's next due time (at once if due). */
  arm(schedule: ScheduleRecord): void {
    if (this.#stopped) return;
    const { clock } = this.host;
    const id = schedule.scheduleId;
    clock.clearTimer(this.#timers.get(id));
    const timer = clock.setTimer(() => {
      if (this.#timers.get(id) === timer) this.#timers.delete(id);
      void this.#serially(() => this.#fire(id)).catch((e: unknown) => {
        // Re-armed from its stored record once the store takes writes again.
        if (e instanceof StoreUnavailable) return;
        this.host.logger.error({ scheduleId: id, err: e }, "the schedule could not fire");
      });
    }, schedule.nextRunAt - clock.now());
    this.#timers.set(id, timer);
  }

  /** Deletes a schedule; NOT_FOUND if there is none. Runs already started go on. */
  delete(scheduleId: string): Promise<void> {
    return this.#serially(async () => {
      if (!this.host.store.getSchedule(scheduleId)) throw notFound(`no schedule ${JSON.stringify(scheduleId)}`);
      await this.host.store.commit({ states: [], idempotency: [], deletedSchedules: [scheduleId] });
      this.host.clock.clearTimer(this.#timers.get(scheduleId));
      this.#timers.delete(scheduleId);
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers.values()) this.host.clock.clearTimer(timer);
    this.#timers.clear();
    await this.#queue;
  }

  #serially(op: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(op);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #fire(scheduleId: string): Promise<void> {
    if (this.#stopped) return;
    const { store, clock } = this.host;
    const schedule = store.getSchedule(scheduleId);
    if (!schedule) return; // deleted meanwhile
    const now = clock.now();
    if (schedule.nextRunAt > now) return this.arm(schedule); // early (re-defined, or beyond one timer)
    const due = schedule.nextRunAt;
    const last = schedule.lastTaskId === undefined ? undefined : store.getTask(schedule.lastTaskId);
    const overlaps = last !== undefined && !isFinal(last);
    const runId = scheduledRunTaskId(scheduleId, due);
    const taskId = this.host.markId?.(runId) ?? runId;
    const task: TaskRecord | undefined =
      overlaps || store.getTask(taskId)
        ? undefined
        : {
            taskId,
            stateType: schedule.stateType,
            actorId: schedule.actorId,
            method: schedule.method,
            request: schedule.request,
            status: "scheduled",
            iteration: 0,
            attempts: 0,
            runAt: due,
            createdAt: now,
            scheduleId,
            ...(this.host.codeVersion !== undefined && { codeVersion: this.host.codeVersion }),
          };
    const nextRunAt = nextCronRun(schedule.cron, schedule.timezone, Math.max(due, now));
    const next: ScheduleRecord | undefined =
      nextRunAt === undefined
        ? undefined
        : {
            ...schedule,
            nextRunAt,
            lastTaskId: overlaps ? schedule.lastTaskId : taskId,
            skipped: schedule.skipped + (overlaps ? 1 : 0),
          };
    await store.commit({
      states: [],
      idempotency: [],
      tasks: task ? [task] : [],
      // An expression that matches no more (a past date) ends its schedule.
      ...(next ? { schedules: [next] } : { deletedSchedules: [scheduleId] }),
    });
    if (task) this.armTask(task);
    if (next) this.arm(next);
  }
}

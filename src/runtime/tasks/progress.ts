import type { CommitBatch, TaskEventRecord, TaskProgressRecord } from "../../store/store.js";
import type { TaskHost } from "./task-host.js";
import { StoreUnavailable } from "../../api/errors.js";

/** What a workflow passes to `ctx.progress()`. */
export interface TaskProgressReport {
  /** Where the workflow is, in words: "copying files", "page 3 of 10". */
  readonly location?: string;
  /** 0..1 (clamped); omit if unknown. */
  readonly fraction?: number;
  /** The workflow's estimate of the time left; omit if unknown. */
  readonly remainingMs?: number;
}

/** Durable progress writes per task: at most one per this interval (plus one at the run's end). */
export const PROGRESS_WRITE_INTERVAL_MS = 1_000;
/** A history "progress" event is added when the location changes, else at most once per this interval. */
export const PROGRESS_EVENT_INTERVAL_MS = 10_000;

interface Entry {
  /** The newest report: what watchers and Tasks.Get see. */
  latest: TaskProgressRecord;
  /** Not yet handed to the store. */
  dirty: boolean;
  timer: NodeJS.Timeout | undefined;
  lastWriteAt: number;
  lastEvent: { location: string; at: number } | undefined;
  /** The run ended: the entry goes once the store shows its last write. */
  ended: boolean;
}

/**
 * The live side of tasks, per runtime: the newest progress of each running
 * task (reported many times a second: kept in memory, streamed at once to
 * in-process watchers, written at most once a second and at the run's end)
 * and wake-ups for watchers whenever a task's record, history or progress
 * changes.
 */
export class TaskHub {
  readonly #entries = new Map<string, Entry>();
  readonly #subscribers = new Map<string, Set<() => void>>();
  /** Durable progress writes so far: reports are coalesced into few of them. */
  #writes = 0;

  constructor(private readonly host: Pick<TaskHost, "clock" | "store" | "logger">) {
    host.store.onTasksChanged((ids) => {
      for (const id of ids) {
        const entry = this.#entries.get(id);
        // Only once the store shows the run's last write: an earlier write
        // becoming visible after the run ended must not hide a newer report.
        if (entry?.ended && !entry.dirty && sameProgress(host.store.getProgress(id), entry.latest)) this.#entries.delete(id);
        this.#wake(id);
      }
    });
  }

  report(taskId: string, report: TaskProgressReport): void {
    const progress = normalize(report, this.host.clock.now());
    let entry = this.#entries.get(taskId);
    if (!entry) {
      entry = { latest: progress, dirty: true, timer: undefined, lastWriteAt: 0, lastEvent: undefined, ended: false };
      const stored = this.host.store.getProgress(taskId);
      // A re-run (retry, loop, restart) carries on the coalescing of history events.
      if (stored) entry.lastEvent = { location: stored.location, at: 0 };
      this.#entries.set(taskId, entry);
    }
    entry.latest = progress;
    entry.dirty = true;
    entry.ended = false;
    if (!entry.timer) {
      // Paces store writes, a real load: real time, not the runtime clock.
      const wait = Math.max(0, entry.lastWriteAt + PROGRESS_WRITE_INTERVAL_MS - Date.now());
      entry.timer = setTimeout(() => this.#write(taskId), wait);
      entry.timer.unref();
    }
    this.#wake(taskId);
  }

  /** A completed task is all done: its progress (if it reported any) shows 100%. */
  complete(taskId: string): void {
    const last = this.progress(taskId);
    if (!last || (last.fraction === 1 && !last.remainingMs)) return;
    this.report(taskId, { location: last.location, fraction: 1, ...(last.remainingMs === undefined ? {} : { remainingMs: 0 }) });
  }

  /** The newest progress: in memory while a run reports it, else stored. */
  progress(taskId: string): TaskProgressRecord | undefined {
    return this.#entries.get(taskId)?.latest ?? this.host.store.getProgress(taskId);
  }

  /**
   * The unwritten progress (and its history event) for the commit that
   * records the end of a run; the entry is dropped once that is visible.
   */
  takeForEndOfRun(taskId: string): Pick<CommitBatch, "progress" | "events"> {
    const entry = this.#entries.get(taskId);
    if (!entry) return {};
    entry.ended = true;
    return this.#take(taskId, entry);
  }

  /** Calls `wake` on every change of the task; returns the unsubscribe. */
  subscribe(taskId: string, wake: () => void): () => void {
    let set = this.#subscribers.get(taskId);
    if (!set) this.#subscribers.set(taskId, (set = new Set()));
    set.add(wake);
    return () => {
      set.delete(wake);
      if (set.size === 0 && this.#subscribers.get(taskId) === set) this.#subscribers.delete(taskId);
    };
  }

  /** Durable progress writes so far. */
  get writes(): number {
    return this.#writes;
  }

  changed(taskId: string): void {
    this.#wake(taskId);
  }

  #wake(taskId: string): void {
    for (const wake of this.#subscribers.get(taskId) ?? []) wake();
  }

  #take(taskId: string, entry: Entry): Pick<CommitBatch, "progress" | "events"> {
    clearTimeout(entry.timer);
    entry.timer = undefined;
    if (!entry.dirty) return {};
    entry.dirty = false;
    entry.lastWriteAt = Date.now();
    this.#writes++;
    const p = entry.latest;
    const events: Array<{ taskId: string; event: TaskEventRecord }> = [];
    const last = entry.lastEvent;
    if (!last || last.location !== p.location || p.updatedAt - last.at >= PROGRESS_EVENT_INTERVAL_MS) {
      entry.lastEvent = { location: p.location, at: p.updatedAt };
      events.push({ taskId, event: { at: p.updatedAt, kind: "progress", detail: describeProgress(p) } });
    }
    return { progress: [{ taskId, progress: p }], events };
  }

  #write(taskId: string): void {
    const entry = this.#entries.get(taskId);
    if (!entry) return;
    const parts = this.#take(taskId, entry);
    if (!parts.progress) return;
    // Losing the newest progress in a crash is harmless: no fsync wait.
    this.host.store.commit({ states: [], idempotency: [], ...parts }, { visibleOnly: true }).catch((e: unknown) => {
      if (e instanceof StoreUnavailable) return; // logged once, by the store's health
      this.host.logger.error({ taskId, err: e }, "the task's progress was not stored");
    });
  }
}

function sameProgress(a: TaskProgressRecord | undefined, b: TaskProgressRecord): boolean {
  return a !== undefined && a.updatedAt === b.updatedAt && a.location === b.location &&
    a.fraction === b.fraction && a.remainingMs === b.remainingMs;
}

function normalize(report: TaskProgressReport, now: number): TaskProgressRecord {
  const fraction = typeof report.fraction === "number" && Number.isFinite(report.fraction)
    ? Math.min(1, Math.max(0, report.fraction))
    : undefined;
  const remainingMs = typeof report.remainingMs === "number" && Number.isFinite(report.remainingMs)
    ? Math.max(0, Math.round(report.remainingMs))
    : undefined;
  return {
    location: String(report.location ?? ""),
    ...(fraction === undefined ? {} : { fraction }),
    ...(remainingMs === undefined ? {} : { remainingMs }),
    updatedAt: now,
  };
}

export function describeProgress(p: TaskProgressRecord): string {
  const parts = [p.location || "-"];
  if (p.fraction !== undefined) parts.push(`${Math.round(p.fraction * 1000) / 10}%`);
  if (p.remainingMs !== undefined) parts.push(`${Math.round(p.remainingMs / 1000)}s left`);
  return parts.join(", ");
}
